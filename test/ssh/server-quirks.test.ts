import * as assert from 'node:assert/strict';
import { parseDropbearVersion, serverQuirk } from '../../src/ssh/server-quirks';

describe('server quirks: Dropbear versions with the channel-close race (issue #321)', () => {
  it('reads the version from the software part of the identification line, with or without its prefix', () => {
    assert.deepEqual(parseDropbearVersion('dropbear_2022.83'), [2022, 83]);
    assert.deepEqual(parseDropbearVersion('SSH-2.0-dropbear_2024.85'), [2024, 85]);
    assert.deepEqual(parseDropbearVersion('dropbear_2020.81 some comment'), [2020, 81]);
    assert.deepEqual(parseDropbearVersion('Dropbear_2022.82-local'), [2022, 82]);
  });

  it('limits Dropbear 2022.82 up to 2024.85 to one channel per connection', () => {
    for (const software of ['dropbear_2022.82', 'dropbear_2022.83', 'SSH-2.0-dropbear_2024.84', 'dropbear_2024.85']) {
      const quirk = serverQuirk(software);
      assert.equal(quirk?.maxChannels, 1, software);
      assert.match(quirk.reason, /Dropbear 20\d\d\.8\d.*one channel at a time/, software);
    }
  });

  it('leaves older and fixed Dropbear releases, OpenSSH and anything unreadable alone', () => {
    for (const software of [
      'dropbear_2020.81',
      'dropbear_2019.78',
      'dropbear_2024.86',
      'dropbear_2025.87',
      'dropbear_2030.1',
      'OpenSSH_9.2p1',
      'OpenSSH_9.2p1 Debian-2+deb12u3',
      'dropbear',
      'dropbear_',
      'dropbear_2022',
      'dropbear_2022.830',
      'dropbear_22.83',
      'xdropbear_2022.83',
      'SSH-2.0-',
      '',
      undefined,
    ]) {
      assert.equal(serverQuirk(software), undefined, String(software));
    }
  });
});
