// Files imported `with { type: "text" }` (migrations, static assets) arrive as strings.
declare module "*.sql" {
  const text: string;
  export default text;
}
