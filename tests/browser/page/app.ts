// The test page's script, bundled by esbuild (tests/browser/servers.mjs): what a front end ships.
// Better Auth's own browser client with its JWT plugin, and the typed client of
// clients/typescript. The suite drives them through `window.frontEnd` from page JavaScript.
import { createAuthClient } from "better-auth/client";
import { jwtClient } from "better-auth/client/plugins";
import * as taskClient from "../../../clients/typescript/src/index.ts";

declare global {
  interface Window {
    frontEnd: typeof frontEnd;
  }
}

// Better Auth lives on the page's own origin (/api/auth), as in a Next.js app.
const auth = createAuthClient({ baseURL: window.location.origin, plugins: [jwtClient()] });

const frontEnd = {
  auth,
  ...taskClient,
  /** Better Auth's JWT for the signed-in session (GET /api/auth/token), or throws. */
  async jwt(): Promise<string> {
    const { data, error } = await auth.token();
    if (error || !data?.token) throw new Error(`Better Auth /token: ${error?.status} ${error?.message}`);
    return data.token;
  },
  /** What page JavaScript can read of a response: its status, the header names CORS lets it
   *  see, and the headers this API exposes. */
  read(response: Response) {
    const header = (name: string) => response.headers.get(name);
    return {
      status: response.status,
      names: [...response.headers.keys()].sort(),
      contentType: header("Content-Type"),
      etag: header("ETag"),
      link: header("Link"),
      location: header("Location"),
      requestId: header("X-Request-Id"),
      retryAfter: header("Retry-After"),
      replayed: header("Idempotent-Replayed"),
      wwwAuthenticate: header("WWW-Authenticate"),
    };
  },
};

window.frontEnd = frontEnd;
