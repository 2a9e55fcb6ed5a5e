import { describe, expect, it } from 'vitest';
import { signToken, tokenMessageId, verifyToken } from '../src/delivery/tokens.ts';

const messageId = '0190a4b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b';
const secret = 'tracking secret of one workspace';
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('message tokens', () => {
  it('name their message and verify under their own secret only', () => {
    const token = signToken(messageId, secret);
    expect(tokenMessageId(token)).toBe(messageId);
    expect(verifyToken(token, messageId, secret)).toBe(true);
    expect(verifyToken(token, messageId, 'another workspace')).toBe(false);
  });

  it('have one spelling: a last character differing only in the bits base64 drops is refused', () => {
    const token = signToken(messageId, secret);
    const [id, mac] = token.split('.') as [string, string];
    // The 22nd character of 16 bytes carries 2 bits; its other 15 spellings decode to the same bytes.
    const aliases = (part: string) => {
      const top = BASE64URL.indexOf(part.at(-1)!) & 0b110000;
      return Array.from({ length: 15 }, (_, n) => `${part.slice(0, -1)}${BASE64URL[top + n + 1]}`);
    };
    for (const alias of aliases(mac)) {
      expect(Buffer.from(alias, 'base64url')).toEqual(Buffer.from(mac, 'base64url'));
      expect(tokenMessageId(`${id}.${alias}`)).toBeNull();
    }
    for (const alias of aliases(id)) expect(tokenMessageId(`${alias}.${mac}`)).toBeNull();
  });

  it('fail when any character that carries bits changes', () => {
    const token = signToken(messageId, secret);
    for (let at = 0; at < token.length; at++) {
      if (token[at] === '.') continue;
      const swapped = BASE64URL[(BASE64URL.indexOf(token[at]!) + 16) % 64];
      const forged = `${token.slice(0, at)}${swapped}${token.slice(at + 1)}`;
      const named = tokenMessageId(forged);
      expect(named !== null && named === messageId && verifyToken(forged, named, secret), forged).toBe(false);
    }
  });
});
