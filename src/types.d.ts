// Files imported `with { type: "text" }` (migrations, static assets) arrive as strings.
declare module "*.sql" {
  const text: string;
  export default text;
}
declare module "*.css" {
  const text: string;
  export default text;
}
// htmx and the UI's own script are served, not run: they are imported as text.
declare module "htmx.org/dist/htmx.min.js" {
  const text: string;
  export default text;
}
declare module "uplot/dist/uPlot.iife.min.js" {
  const text: string;
  export default text;
}
declare module "*/static/charts.js" {
  const text: string;
  export default text;
}
declare module "*/static/shield.js" {
  const text: string;
  export default text;
}
declare module "*/static/theme.js" {
  const text: string;
  export default text;
}
// ssh2 ships no types (the agent channel, src/agent); its few calls are typed where used.
declare module "ssh2";
// The API reference page's files (src/web/assets.ts), served as text too.
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  const text: string;
  export default text;
}
declare module "*/static/api-docs.js" {
  const text: string;
  export default text;
}
