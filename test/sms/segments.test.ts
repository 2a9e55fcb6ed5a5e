import { describe, expect, it } from 'vitest';
import { worstCase } from '../../src/delivery/sms/content.ts';
import { countSegments } from '../../src/delivery/sms/segments.ts';

/** Segment counts as carriers (and Twilio's segment calculator) count them. */
describe('SMS segments', () => {
  const a = (n: number) => 'a'.repeat(n);
  it.each([
    ['160 GSM characters', a(160), 'GSM-7', 1, 160],
    ['161 GSM characters', a(161), 'GSM-7', 2, 161],
    ['306 GSM characters', a(306), 'GSM-7', 2, 306],
    ['307 GSM characters', a(307), 'GSM-7', 3, 307],
    ['GSM accents (é ü Ñ ß) stay GSM-7', `é ü Ñ ß ${a(152)}`, 'GSM-7', 1, 160],
    ['80 euro signs: 160 septets', '€'.repeat(80), 'GSM-7', 1, 160],
    ['81 euro signs: 76 per segment', '€'.repeat(81), 'GSM-7', 2, 162],
    ['an extension character never straddles segments', `${a(152)}€${a(152)}`, 'GSM-7', 3, 306],
    ['[ ] { } \\ ^ ~ | count two septets', `${a(150)}[]{}\\^~|`, 'GSM-7', 2, 166],
    ['70 Cyrillic characters', 'ж'.repeat(70), 'UCS-2', 1, 70],
    ['71 Cyrillic characters', 'ж'.repeat(71), 'UCS-2', 2, 71],
    ['134 Cyrillic characters', 'ж'.repeat(134), 'UCS-2', 2, 134],
    ['135 Cyrillic characters', 'ж'.repeat(135), 'UCS-2', 3, 135],
    ['one ê turns 160 GSM characters into UCS-2', `ê${a(159)}`, 'UCS-2', 3, 160],
    ['a tab is not GSM', `\t${a(10)}`, 'UCS-2', 1, 11],
    ['35 emoji: 70 UTF-16 units', '😀'.repeat(35), 'UCS-2', 1, 70],
    ['36 emoji: 33 per segment, pairs never split', '😀'.repeat(36), 'UCS-2', 2, 72],
    ['an emoji never straddles segments', `${a(66)}😀${a(66)}`, 'UCS-2', 3, 134],
  ])('%s', (_name, text, encoding, segments, units) => {
    expect(countSegments(text)).toEqual({ encoding, segments, units });
  });
});

describe('an SMS body’s worst case', () => {
  it('counts a body without outputs exactly, and tags as nothing', () => {
    expect(worstCase('Your code is ready.')).toEqual(countSegments('Your code is ready.'));
    expect(worstCase('{% if contact.vip %}VIP{% endif %} offer')).toEqual(countSegments('VIP offer'));
  });

  it('counts each output as 64 characters that may turn the message into UCS-2', () => {
    // 30 GSM characters + 64: 94 UCS-2 units (2 segments) beats 30 + 128 septets (1 segment).
    expect(worstCase(`${'x'.repeat(30)}{{ contact.firstName }}`)).toMatchObject({ encoding: 'UCS-2', segments: 2, units: 94 });
    // Two outputs and 80 characters of text: 208 UCS-2 units, 4 segments.
    expect(worstCase(`${'x'.repeat(40)}{{ contact.firstName }}${'x'.repeat(40)}{{ contact.city }}`).segments).toBe(4);
  });

  it('counts GSM extension characters when they cost more than UCS-2', () => {
    // 100 GSM characters + 64: as UCS-2 164 units (3 segments); as extension characters 228 septets (2 segments).
    expect(worstCase(`${'x'.repeat(100)}{{ contact.firstName }}`)).toMatchObject({ encoding: 'UCS-2', segments: 3 });
    // Text already UCS-2 stays UCS-2.
    expect(worstCase('Привет {{ contact.firstName }}')).toMatchObject({ encoding: 'UCS-2', units: 7 + 64 });
  });

  it('takes | truncate: N at its word, unless N is shorter than the omission', () => {
    expect(worstCase('Hi {{ contact.firstName | truncate: 10 }}')).toMatchObject({ units: 3 + 10 });
    expect(worstCase('Hi {{ contact.firstName | truncate: 10, "" }}')).toMatchObject({ units: 3 + 10 });
    // truncate: 2 with "..." keeps more than 2 characters: counted as unbounded (64).
    expect(worstCase('Hi {{ contact.firstName | truncate: 2 }}')).toMatchObject({ units: 3 + 64 });
  });
});
