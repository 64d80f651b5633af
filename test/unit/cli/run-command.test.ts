// runCommand's start-up warnings: secrets that would cross the network in clear text.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { cleartextSecrets } from '../../../src/cli/run-command.js'

describe('cleartextSecrets', () => {
  test('warns for a token or a basic-auth password over http:// to another machine only', () => {
    assert.deepEqual(cleartextSecrets({ matomoUrl: 'http://matomo.example.org/matomo.php', accessToken: 't' }), { host: 'matomo.example.org', what: 'the token is' })
    assert.deepEqual(cleartextSecrets({ matomoUrl: 'http://u:p@10.0.0.5/matomo.php', accessToken: 't' }), { host: '10.0.0.5', what: 'the token and the basic-auth password are' })
    assert.deepEqual(cleartextSecrets({ matomoUrl: 'http://u:p@10.0.0.5/matomo.php', accessToken: undefined }), { host: '10.0.0.5', what: 'the basic-auth password is' })
    for (const url of ['https://matomo.example.org/matomo.php', 'http://127.0.0.1:8080/matomo.php', 'http://localhost/matomo.php', 'http://[::1]/matomo.php']) {
      assert.equal(cleartextSecrets({ matomoUrl: url, accessToken: 't' }), undefined, url)
    }
    assert.equal(cleartextSecrets({ matomoUrl: 'http://matomo.example.org/matomo.php', accessToken: undefined }), undefined, 'nothing secret to send')
    assert.equal(cleartextSecrets({ matomoUrl: undefined, accessToken: 't' }), undefined)
  })
})
