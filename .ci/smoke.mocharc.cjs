'use strict';
// The smoke subset .ci/run runs on the other supported Node line: the project's mocha config with
// fewer files (start, ffmpeg publish + play, a script call; the installed package and its command).
module.exports = {
  ...require('../.mocharc.cjs'),
  spec: ['test/integration/rtmp-core.test.ts', 'test/integration/script-runtime.test.ts', 'test/integration/package-install.test.ts'],
};
