// GraphQL tools load Trove's schema: the introspection query of graphql-js (what GraphiQL, Apollo,
// graphql-codegen, Postman and Insomnia send) runs within Trove's limits, and buildClientSchema
// accepts the answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildClientSchema, getIntrospectionQuery } from 'graphql';
import { startTrove } from './trove.mjs';

/** @type {Awaited<ReturnType<typeof startTrove>>} */
let trove;

before(async () => {
  trove = await startTrove();
});

after(() => trove.stop());

/**
 * @param {string} query
 * @param {Record<string, string>} headers
 */
async function post(query, headers) {
  const res = await fetch(`${trove.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  assert.equal(res.status, 200);
  return res.json();
}

const variants = {
  default: getIntrospectionQuery(),
  full: getIntrospectionQuery({
    descriptions: true,
    specifiedByUrl: true,
    directiveIsRepeatable: true,
    schemaDescription: true,
    inputValueDeprecation: true,
  }),
};

for (const [name, query] of Object.entries(variants)) {
  for (const who of ['admin key', 'anonymous']) {
    test(`the ${name} introspection query builds a client schema (${who})`, async () => {
      const headers = who === 'admin key' ? { 'x-trove-admin-key': trove.adminKey } : {};
      const answer = await post(query, headers);
      assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
      const schema = buildClientSchema(answer.data);
      const file = schema.getType('File');
      assert.ok(file && 'getFields' in file, 'File is an object type');
      assert.ok('mimeType' in file.getFields());
      assert.ok('files' in (schema.getQueryType()?.getFields() ?? {}));
      assert.ok(schema.getMutationType(), 'mutations are described');
    });
  }
}

test('introspection does not lift the limits of ordinary queries', async () => {
  const deep =
    '{ __typename files(limit: 1) { nodes { bucket { files(limit: 1) { nodes { bucket { files(limit: 1) { nodes { bucket { files(limit: 1) { nodes { id } } } } } } } } } } } }';
  const answer = await post(deep, { 'x-trove-admin-key': trove.adminKey });
  assert.ok(answer.errors?.length, 'a deep query mixed with __typename is still refused');
});
