// Files imported `with { type: "file" }`: Bun gives their path (inside the compiled binary, too).
declare module "*/standalone.js" {
  const path: string;
  export default path;
}
