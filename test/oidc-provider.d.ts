// oidc-provider ships no types; the test harness uses a small part of it (test/helpers/oidc-provider.ts).
declare module "oidc-provider" {
  const Provider: any;
  export default Provider;
}
