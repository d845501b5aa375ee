// node:crypto's createHash('sha256') for the in-tab model (graph hashes key its session cache).
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

export function createHash(algorithm: string) {
  if (algorithm !== 'sha256') throw new Error(`only sha256 is available in a browser tab, not ${algorithm}`);
  const h = sha256.create();
  const hash = {
    update(data: string | Uint8Array) {
      h.update(typeof data === 'string' ? utf8ToBytes(data) : data);
      return hash;
    },
    digest(encoding: 'hex') {
      if (encoding !== 'hex') throw new Error('only hex digests are available in a browser tab');
      return bytesToHex(h.digest());
    },
  };
  return hash;
}
