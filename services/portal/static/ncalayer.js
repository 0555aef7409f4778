// The signing page's script: asks the citizen's NCALayer, over its WebSocket, for a
// certificate and for a detached CMS over the exact bytes of the sign request, then
// posts the CMS back in the page's form. The protocol is NCALayer's own (module
// `kz.gov.pki.knca.commonUtils`): on connecting NCALayer greets with
// `{"result": {"version": ...}}`; a request is `{"module", "method", "args"}` and its
// answer `{"code": "200", "responseObject": ...}` or an error code with a `message`.
// The page gives the address (`data-ncalayer`), the bytes (`data-document`, base64) and
// its words; nothing here is page-specific beyond the element ids.
'use strict';

(() => {
  const form = document.getElementById('sign-form');
  if (!form) return;
  const MODULE = 'kz.gov.pki.knca.commonUtils';
  const FILE_STORAGE = 'PKCS12';
  const url = form.dataset.ncalayer;
  const byId = (id) => document.getElementById(id);
  const storageSelect = byId('storage');

  let socket = null;
  let waiting = null;

  const fail = (text) => {
    const e = byId('ncalayer-error');
    e.textContent = text;
    e.hidden = false;
  };
  const unavailable = () => new Error(form.dataset.unavailable.replace('{url}', url));

  // Opens the connection; resolves with NCALayer's version once it has greeted.
  const connect = () => new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let greeted = false;
    ws.onmessage = (m) => {
      let answer;
      try {
        answer = JSON.parse(m.data);
      } catch (_) {
        answer = null;
      }
      if (!greeted) {
        greeted = true;
        if (answer && answer.result && answer.result.version) {
          socket = ws;
          resolve(answer.result.version);
        } else {
          ws.close();
          reject(unavailable());
        }
        return;
      }
      const w = waiting;
      waiting = null;
      if (!w) return;
      if (answer && String(answer.code) === '200') {
        w.resolve(answer.responseObject);
      } else {
        const code = answer ? answer.code : '?';
        const message = answer && answer.message ? answer.message : '';
        w.reject(new Error(`${form.dataset.refused}: ${code} ${message}`.trim()));
      }
    };
    const lost = () => {
      socket = null;
      if (!greeted) {
        greeted = true;
        reject(unavailable());
      }
      const w = waiting;
      waiting = null;
      if (w) w.reject(unavailable());
    };
    ws.onerror = lost;
    ws.onclose = lost;
  });

  // One call of the module; NCALayer answers one request at a time.
  const call = async (method, args) => {
    if (!socket) await connect();
    if (waiting) throw new Error(form.dataset.refused);
    return new Promise((resolve, reject) => {
      waiting = { resolve, reject };
      const request = { module: MODULE, method };
      if (args) request.args = args;
      socket.send(JSON.stringify(request));
    });
  };

  // The storages to choose from: the active tokens, and the key file.
  const storages = async () => {
    const tokens = await call('getActiveTokens');
    const list = Array.isArray(tokens) ? tokens.filter((t) => typeof t === 'string') : [];
    if (!list.includes(FILE_STORAGE)) list.push(FILE_STORAGE);
    storageSelect.replaceChildren(...list.map((t) => {
      const o = document.createElement('option');
      o.value = t;
      o.textContent = t;
      return o;
    }));
    byId('storage-label').hidden = list.length < 2;
    return list[0];
  };

  const chosenStorage = async () => storageSelect.value || storages();

  const day = (ms) => {
    const d = new Date(Number(ms));
    return Number.isNaN(d.getTime()) ? '' : d.toLocaleDateString(document.documentElement.lang === 'kk' ? 'kk-KZ' : 'ru-RU');
  };

  // «выбрать сертификат»: the chosen key's certificate, as NCALayer describes it.
  const chooseCertificate = async () => {
    const storage = await chosenStorage();
    const info = await call('getKeyInfo', [storage]);
    const dn = String(info.subjectDn || '');
    const iin = /SERIALNUMBER=IIN(\d{12})/i.exec(dn);
    byId('cert-owner').textContent = info.subjectCn || dn;
    byId('cert-iin').textContent = iin ? iin[1] : '';
    byId('cert-valid').textContent = `${day(info.certNotBefore)} – ${day(info.certNotAfter)}`;
    byId('cert-issuer').textContent = info.issuerCn || info.issuerDn || '';
    byId('certificate').hidden = false;
  };

  byId('choose-certificate').addEventListener('click', () => {
    byId('ncalayer-error').hidden = true;
    chooseCertificate().catch((e) => fail(e.message));
  });

  // «подписать»: a pasted CMS goes as it is; otherwise NCALayer signs the bytes
  // (a detached CMS, the signing key) and the form is posted with it.
  form.addEventListener('submit', (event) => {
    if (form.elements.signature.value.trim()) return;
    event.preventDefault();
    byId('ncalayer-error').hidden = true;
    (async () => {
      const storage = await chosenStorage();
      const cms = await call('createCAdESFromBase64', [storage, 'SIGNATURE', form.dataset.document, false]);
      if (typeof cms !== 'string' || !cms) throw new Error(form.dataset.refused);
      form.elements.signature.value = cms;
      form.submit();
    })().catch((e) => fail(e.message));
  });
})();
