/**
 * package.json's settings must be exactly the table in src/extension/settingsTable.ts (keys, types, defaults,
 * enums, descriptions, scopes) and its restricted list must be the table's. On a mismatch the message prints
 * the expected JSON to paste into package.json.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DEVICE_CHOICES } from '../../src/protocol/worker';
import { RESTRICTED_SETTINGS, SETTINGS, coerceSetting, settingDef, toContribution, type SettingDef } from '../../src/extension/settingsTable';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
const properties: Record<string, Record<string, unknown>> = pkg.contributes?.configuration?.properties ?? {};

describe('settings drift (package.json ↔ settingsTable)', () => {
  it('declares exactly the settings of the table', () => {
    assert.deepEqual(Object.keys(properties).sort(), SETTINGS.map((s) => s.key).sort());
  });

  for (const def of SETTINGS as readonly SettingDef[]) {
    it(`${def.key} matches the table`, () => {
      const expected = toContribution(def);
      assert.deepEqual(properties[def.key], expected, `package.json should declare:\n"${def.key}": ${JSON.stringify(expected, null, 2)}`);
    });
  }

  it('restricted settings are exactly capabilities.untrustedWorkspaces.restrictedConfigurations', () => {
    const caps = pkg.capabilities?.untrustedWorkspaces;
    assert.equal(caps?.supported, 'limited');
    assert.deepEqual([...(caps?.restrictedConfigurations ?? [])].sort(), [...RESTRICTED_SETTINGS].sort());
    assert.ok(RESTRICTED_SETTINGS.includes('concert.modelFolders'), 'model folders name paths: they must be restricted');
  });

  it('virtual workspaces are declared unsupported', () => {
    assert.equal(pkg.capabilities?.virtualWorkspaces?.supported ?? pkg.capabilities?.virtualWorkspaces, false);
  });

  it('every setting has a description, and enums have one description per value', () => {
    for (const def of SETTINGS as readonly SettingDef[]) {
      assert.ok(def.markdownDescription.length > 20, def.key);
      if (def.enum) assert.equal(def.enumDescriptions?.length, def.enum.length, def.key);
    }
  });

  it('concert.device offers exactly the protocol device choices, default auto', () => {
    const d = settingDef('concert.device');
    assert.deepEqual([...(d.enum ?? [])], [...DEVICE_CHOICES]);
    assert.equal(d.default, 'auto');
  });

  it('every default is a valid value of its own setting', () => {
    for (const def of SETTINGS as readonly SettingDef[]) assert.deepEqual(coerceSetting(def, def.default), def.default, def.key);
  });
});
