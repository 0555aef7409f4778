// The NCALayer stand-in through the published ncalayer-js-client, as a frontend signs
// with it. Prints one JSON line with what it got; the Rust side checks the signatures.
// The stand-in's TLS certificate is trusted through NODE_EXTRA_CA_CERTS (the test root).
//
//   node ncalayer-sign.mjs sign      URL DATA_B64
//     connect (the version), getActiveTokens, getKeyInfo, createCAdESFromBase64 detached
//     and attached, createCMSSignatureFromBase64, an AUTHENTICATION key's signature,
//     createCAdESFromBase64Hash, basicsSignCMS detached, attached and over two documents.
//   node ncalayer-sign.mjs cancelled URL DATA_B64
//     every call while the stand-in's dialog is set to cancel: the errors the client raises.
//   node ncalayer-sign.mjs refused   URL DATA_B64
//     a key for authentication of someone who has none, another storage, bad base64,
//     a wrong argument type: the errors the client raises.
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';

const require = createRequire(import.meta.url);
const { NCALayerClient } = require('ncalayer-js-client');

const [mode, url, data] = process.argv.slice(2);
const client = new NCALayerClient(url, false);
const seen = { mode };

// the error a call raises, as the client reports it
const error = async (call) => {
  try {
    const r = await call();
    return { unexpected: r };
  } catch (e) {
    return { name: e.name, message: e.message, canceledByUser: e.canceledByUser === true };
  }
};

try {
  seen.version = await client.connect();
  const storage = NCALayerClient.fileStorageType;
  if (mode === 'sign') {
    seen.tokens = await client.getActiveTokens();
    seen.keyInfo = await client.getKeyInfo(storage);
    seen.cadesDetached = await client.createCAdESFromBase64(storage, data, 'SIGNATURE', false);
    seen.cadesAttached = await client.createCAdESFromBase64(storage, data, 'SIGNATURE', true);
    seen.cmsDetached = await client.createCMSSignatureFromBase64(storage, data);
    seen.authDetached = await client.createCAdESFromBase64(storage, data, 'AUTHENTICATION', false);
    const digest = createHash('sha256').update(Buffer.from(data, 'base64')).digest('base64');
    seen.hashDetached = await client.createCAdESFromBase64Hash(storage, digest);
    seen.basicsDetached = await client.basicsSignCMS(
      NCALayerClient.basicsStoragePKCS12,
      data,
      NCALayerClient.basicsCMSParamsDetached,
      NCALayerClient.basicsSignerSignAny,
    );
    seen.basicsAttached = await client.basicsSignCMS(
      NCALayerClient.basicsStorageAll,
      data,
      NCALayerClient.basicsCMSParamsAttached,
      NCALayerClient.basicsSignerSignPerson,
    );
    seen.basicsMany = await client.basicsSignCMS(
      NCALayerClient.basicsStoragePKCS12,
      [data, data],
      NCALayerClient.basicsCMSParamsDetached,
      NCALayerClient.basicsSignerSignAny,
    );
  } else if (mode === 'cancelled') {
    seen.keyInfo = await error(() => client.getKeyInfo(storage));
    seen.cades = await error(() => client.createCAdESFromBase64(storage, data, 'SIGNATURE', false));
    seen.basics = await error(() => client.basicsSignCMS(
      NCALayerClient.basicsStoragePKCS12,
      data,
      NCALayerClient.basicsCMSParamsDetached,
      NCALayerClient.basicsSignerSignAny,
    ));
  } else if (mode === 'refused') {
    seen.noAuthKey = await error(() => client.createCAdESFromBase64(storage, data, 'AUTHENTICATION', false));
    seen.basicsNoAuthKey = await error(() => client.basicsSignCMS(
      NCALayerClient.basicsStoragePKCS12,
      data,
      NCALayerClient.basicsCMSParamsDetached,
      NCALayerClient.basicsSignerAuthPerson,
    ));
    seen.otherStorage = await error(() => client.getKeyInfo('AKKZIDCardStore'));
    seen.badBase64 = await error(() => client.createCMSSignatureFromBase64(storage, 'не base64!'));
    seen.badType = await error(() => client.createCAdESFromBase64(storage, data, 123));
    seen.badParams = await error(() => client.basicsSign(null, 'cms', data, 555, {}, 'ru'));
    // and the connection still serves
    seen.tokensAfter = await client.getActiveTokens();
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} catch (e) {
  seen.failed = `${e.name}: ${e.message}`;
}
console.log(JSON.stringify(seen));
if (client.wsConnection) client.wsConnection.close();
process.exit(seen.failed ? 1 : 0);
