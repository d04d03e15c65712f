import type { Backend } from "./backend.ts";
import type { ShieldConfig } from "./config.ts";
export class ShieldBackend {
  static async connect(_c: ShieldConfig): Promise<Backend> { throw new Error("Shield mode is not implemented yet"); }
}
