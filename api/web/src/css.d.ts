// esbuild bundles imported stylesheets into live-map.css; TypeScript only needs to know they exist.
declare module "*.css";
