// LEO's `clean_answer` and `answer_match` (embodied-generalist/embodied-generalist `data/data_utils.py` and
// `evaluator/scanqa_eval.py`), one case per rule, expected values worked out from Python's `re` semantics by
// reading that code (no outputs of the Python code are stored here). The quirks are the point: the character
// filter runs before the ç/’ fixes, so those never fire; "1.5" becomes "fifteen"; `$` also matches before a final
// newline; refs are tried in order and a containment match stops the search.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leoAnswerMatch, leoCleanAnswer } from '../../src/eval/qa3d_metrics.ts';

const CLEAN: [rule: string, input: string, expected: string][] = [
  ['lower-case', 'CHAIR', 'chair'],
  ['trailing spaces', 'chair   ', 'chair'],
  ['trailing spaces before a final newline (Python $)', 'chair  \n', 'chair\n'],
  ['spaces before an inner newline only collapse', 'chair  \nbed', 'chair \nbed'],
  ['leading spaces', '   chair', 'chair'],
  ['a leading tab stays (only spaces are trimmed)', '\tchair', '\tchair'],
  ['runs of spaces collapse', 'brown   chair', 'brown chair'],
  ['punctuation goes', 'chair!?', 'chair'],
  [
    'letters, digits, comma, apostrophe, hyphen, colon stay',
    "left-hand side: yes, it's",
    "left-hand side: yes, it's",
  ],
  ['non-ASCII letters go', 'café', 'caf'],
  ['ç goes before the ç → c rule runs', 'français', 'franais'],
  ["’ goes before the ’ → ' rule runs", 'it’s', 'its'],
  ['Unicode whitespace stays, and is not the space the article rule wants', 'a\u00a0chair', 'a\u00a0chair'],
  ['letf', 'letf', 'left'],
  ['let (also the verb)', 'let me see', 'left me see'],
  ['tehre', 'over tehre', 'over there'],
  ['rigth', 'rigth', 'right'],
  ['rght', 'rght', 'right'],
  ['behine', 'behine', 'behind'],
  ['tv comes back upper-case', 'tv', 'TV'],
  ['tv only as a word', 'tvs', 'tvs'],
  ['chai', 'chai', 'chair'],
  ['wasing', 'wasing machine', 'washing machine'],
  ['waslked', 'waslked', 'walked'],
  ['oclock', '3 oclock', "three o'clock"],
  ["o' clock", "o'  clock", "o'clock"],
  ['0', '0', 'zero'],
  ['none', 'None', 'zero'],
  ['single digits', '7', 'seven'],
  ['20', '20', 'twenty'],
  ['21 is not spelled out', '21', '21'],
  ['23 is', '23', 'twenty-three'],
  ['hyphen is a word boundary', '2-3', 'two-three'],
  ['the dot goes first, so 1.5 is fifteen', '1.5', 'fifteen'],
  ['100 stays', '100', '100'],
  ['a trailing digit after letters goes', 'chair3', 'chair'],
  ['no1', 'no1', 'no'],
  ['two trailing digits stay', 'abc12', 'abc12'],
  ['a', 'a chair', 'chair'],
  ['an', 'an apple', 'apple'],
  ['the', 'the table', 'table'],
  ['the the: one pass, non-overlapping', 'the the chair', 'the chair'],
  ['a an: the a rule, then the an rule', 'a an apple', 'apple'],
  ['numbers are words before articles drop', 'the 2 chairs', 'two chairs'],
  ['an article with no word after stays', 'the', 'the'],
  ['an article before a comma stays', 'a, b', 'a, b'],
  ['backwards', 'backwards', 'backward'],
  ['empty', '', ''],
  ['all together', '  The TV is on the LEFT.  ', 'TV is on left'],
];

describe('LEO clean_answer, rule by rule', () => {
  for (const [rule, input, expected] of CLEAN)
    it(rule, () => assert.equal(leoCleanAnswer(input), expected, JSON.stringify(input)));
});

describe('LEO answer_match', () => {
  const cases: [pred: string, refs: string[], expected: [number, number], why: string][] = [
    ['left', ['left'], [1, 1], 'exact'],
    ['left side', ['left'], [0, 1], 'the reference inside the prediction'],
    [
      'left',
      ['left side', 'left'],
      [0, 1],
      'the first reference that contains it decides, before an exact match',
    ],
    ['right', ['left', 'right'], [1, 1], 'a reference that matches neither way is skipped'],
    ['tv  stand', ['tvstand'], [0, 1], 'whitespace is removed for containment'],
    ['on the left', ['to left'], [0, 0], 'no containment'],
    ['', ['left'], [0, 1], 'an empty prediction is inside every reference'],
  ];
  for (const [pred, refs, expected, why] of cases)
    it(why, () => assert.deepEqual(leoAnswerMatch(pred, refs), expected));
});
