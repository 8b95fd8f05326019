/** Who signs the patches off: `--from`, else git's user.name/user.email, else an error. */
import { configValue, type GitContext } from './git.ts';

export interface Identity {
  name: string;
  email: string;
}

/** No --from and no git identity: a DCO sign-off cannot be made up. */
export class MissingIdentityError extends Error {
  constructor() {
    super('no author identity: pass --from "Name <email>" or set git config user.name and user.email');
  }
}

export class InvalidIdentityError extends Error {}

export function parseIdentity(text: string): Identity {
  const m = /^\s*(.*?)\s*<([^<>\s]+@[^<>\s]+)>\s*$/.exec(text);
  if (!m || !m[1]) throw new InvalidIdentityError(`invalid --from '${text}': expected "Full Name <email@example.org>"`);
  return { name: m[1].replace(/^"(.*)"$/, '$1'), email: m[2] };
}

export function resolveIdentity(from: string | undefined, ctx: GitContext | undefined): Identity {
  if (from) return parseIdentity(from);
  const name = ctx && configValue(ctx, 'user.name');
  const email = ctx && configValue(ctx, 'user.email');
  if (!name || !email) throw new MissingIdentityError();
  return { name, email };
}

export const identityLine = (id: Identity) => `${id.name} <${id.email}>`;
