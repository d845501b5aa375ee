// node:os for the in-tab model: nothing is written, so these only need to be strings.
export const tmpdir = () => '/tmp';
export const homedir = () => '/home';
