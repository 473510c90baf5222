// Vite's `?url` imports: the URL of the file as built.
declare module "*?url" {
  const url: string;
  export default url;
}
