import { expect, type APIRequestContext } from "@playwright/test";
import { createHmac } from "node:crypto";
import { PASSWORD } from "./person";

/** RFC 4648 base32 (no padding) to bytes. */
function base32(text: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of text.replace(/[\s=]/g, "").toUpperCase()) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The test's own RFC 6238 code (SHA-1, 6 digits, 30 s) of `secret` at `at` (ms). */
export function totp(secret: string, at = Date.now()): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const digest = createHmac("sha1", base32(secret)).update(counter).digest();
  const offset = digest[19] & 0x0f;
  const binary =
    ((digest[offset] & 0x7f) << 24) | (digest[offset + 1] << 16) | (digest[offset + 2] << 8) | digest[offset + 3];
  return String(binary % 1_000_000).padStart(6, "0");
}

/** The code of the next 30 s step: still accepted (one step either side), and later than any
 * code used in this step, which a code must be. */
export function nextCode(secret: string): string {
  return totp(secret, Date.now() + 30_000);
}

/** A six-digit code that is none of the codes accepted now. */
export function wrongCode(secret: string): string {
  const taken = [-30_000, 0, 30_000].map((d) => totp(secret, Date.now() + d));
  for (let n = 0; ; n++) {
    const code = String(n).padStart(6, "0");
    if (!taken.includes(code)) return code;
  }
}

/** Turns on two-factor authentication of `username` through the JSON API; answers the secret
 * and the recovery codes. */
export async function twoFactorIsOn(request: APIRequestContext, username: string) {
  const login = await request.post("/api/v1/auth/token", { form: { username, password: PASSWORD } });
  expect(login.status()).toBe(200);
  const headers = { authorization: `Bearer ${(await login.json()).access_token}` };
  const started = await request.post("/api/v1/users/me/mfa/totp", { headers, data: { password: PASSWORD } });
  expect(started.status()).toBe(200);
  const { secret } = await started.json();
  const confirmed = await request.post("/api/v1/users/me/mfa/totp/confirm", { headers, data: { code: totp(secret) } });
  expect(confirmed.status()).toBe(200);
  const codes: string[] = (await confirmed.json()).recovery_codes;
  return { secret, codes };
}
