// The portal's cabinet in headless Chromium, as a citizen uses it (seed 001 p.9–10): the
// pages' own script signs through NCALayer at the address the portal is configured with.
// Prints one JSON line with what it saw; keeps a screenshot of each screen in OUTDIR.
//
//   node portal-cabinet.mjs apply  BASE IIN PASSWORD REGULATION NCALAYER_CERT OUTDIR
//     the registration (a wrong password at the login first), the catalogue, the
//     service's passport, «Заказать услугу онлайн», the form (IIN and name filled in from
//     the account; a required field left empty first, refused in the page), the scans,
//     «отправить запрос», «выбрать сертификат», «подписать» in NCALayer, the request's
//     screen; «обновить статус» until the provider's first status.
//   node portal-cabinet.mjs result BASE IIN PASSWORD NUMBER NCALAYER_CERT OUTDIR
//     the login, «История получения услуг», the request's screen, «обновить статус»,
//     «просмотр результата», «сохранить» (a download), the history in Kazakh.
//
// NCALAYER_CERT is the stand-in's TLS certificate (PEM): Chromium trusts exactly its key
// (--ignore-certificate-errors-spki-list), nothing else. Chromium: $CHROMIUM or
// /usr/bin/chromium.
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open } from './browser.mjs';

const [mode, base, iin, password, subject, certPath, out] = process.argv.slice(2);
const spki = createHash('sha256')
  .update(new X509Certificate(readFileSync(certPath)).publicKey.export({ type: 'spki', format: 'der' }))
  .digest('base64');
const seen = { mode };
const { browser, page, shot, go, text } = await open(out, {
  args: [`--ignore-certificate-errors-spki-list=${spki}`],
  context: { acceptDownloads: true },
  seen,
});
try {
  const login = async () => {
    await page.goto(`${base}/ui/login`);
    await page.fill('#iin', iin);
    await page.fill('#password', password);
    await Promise.all([page.waitForURL('**/ui/services'), page.click('#login')]);
  };
  // «обновить статус» until `done` holds (20 s at most)
  const refreshUntil = async (done) => {
    for (let i = 0; i < 80 && !(await done()); i++) {
      await new Promise((r) => setTimeout(r, 250));
      await go('#refresh');
    }
    return text('#status');
  };

  if (mode === 'apply') {
    const regulation = subject;
    // a wrong password first (not registered yet), then the registration
    await page.goto(`${base}/ui/login`);
    await page.fill('#iin', iin);
    await page.fill('#password', 'wrong-password');
    await go('#login');
    seen.login_refused = await text('#error');
    await go('#to-register');
    await page.fill('#iin', iin);
    await page.fill('#password', password);
    await page.fill('#password-again', password);
    await page.fill('#email', 'citizen@example.kz');
    await shot('register');
    await Promise.all([page.waitForURL('**/ui/services'), page.click('#register')]);
    seen.who = await text('#who');
    await shot('services');
    // the service, its passport, «Заказать услугу онлайн»
    await go(`#service-${regulation}`);
    seen.passport_deadline = await text('#deadline');
    await shot('passport');
    await go('#order');
    seen.form_iin = await page.inputValue('#iin');
    seen.form_name = await page.inputValue('#full-name');
    // the form: the fields by their kind, the phone; a scan of every document
    await page.fill('#phone', '+7 701 123 45 67');
    const inputs = await page.locator('input[id^="form-"]').all();
    for (const input of inputs) {
      const type = await input.getAttribute('type');
      if (type === 'checkbox') await input.check();
      else if (type === 'number') await input.fill('3');
      else if (type === 'date') await input.fill('2020-01-01');
      else if (type === 'email') await input.fill('citizen@example.kz');
      else if (type === 'tel') await input.fill('+7 701 123 45 67');
      else await input.fill('тест');
    }
    const scan = join(out, 'scan.pdf');
    writeFileSync(scan, '%PDF-1.4 a scan of the document');
    for (const file of await page.locator('input[type="file"]').all()) await file.setInputFiles(scan);
    // a required field left empty: refused in the page, nothing kept but what was entered
    const required = page.locator('input[id^="form-"][type="text"]').first();
    const kept = await required.inputValue();
    await required.fill('');
    await go('#send');
    seen.missing_field = await text('#error');
    seen.missing_code = await text('#code');
    seen.phone_kept = await page.inputValue('#phone');
    await shot('missing-field');
    await required.fill(kept);
    for (const file of await page.locator('input[type="file"]').all()) await file.setInputFiles(scan);
    await shot('form');
    // «отправить запрос»: the signing page
    await Promise.all([page.waitForURL(/\/ui\/applications\/[A-Z0-9-]+\/sign$/), page.click('#send')]);
    seen.number = page.url().split('/').slice(-2)[0];
    seen.sign_iin = await text('#iin');
    seen.sha256 = await text('#sha256');
    // «выбрать сертификат»: NCALayer describes the key
    await page.click('#choose-certificate');
    await page.locator('#certificate').waitFor({ state: 'visible', timeout: 15000 });
    seen.cert_owner = await text('#cert-owner');
    seen.cert_iin = await text('#cert-iin');
    seen.cert_valid = await text('#cert-valid');
    seen.ncalayer_error = (await page.locator('#ncalayer-error').isVisible()) ? await text('#ncalayer-error') : null;
    await shot('certificate');
    // «подписать»: the CMS made in NCALayer, posted, checked; the request's screen
    await Promise.all([
      page.waitForURL(new RegExp(`/ui/applications/${seen.number}$`), { timeout: 20000 }),
      page.click('#sign'),
    ]);
    seen.screen = {
      iin: await text('#iin'),
      number: await text('#number'),
      service: await text('#service'),
      status: await text('#status'),
      due: await text('#due'),
    };
    await shot('signed');
    seen.status = await refreshUntil(async () => (await page.locator('#mio-number').count()) > 0);
    seen.mio_number = await text('#mio-number');
    await shot('received');
  } else if (mode === 'result') {
    const number = subject;
    await login();
    await go('#nav-history');
    seen.listed = (await page.locator(`a.number:text-is("${number}")`).count()) === 1;
    seen.output_document = (await page.locator('a.output-document').count()) === 1;
    await shot('history');
    await go(`a.number:text-is("${number}")`);
    seen.status = await refreshUntil(async () => (await page.locator('#view-result').count()) > 0);
    seen.statuses = await page.locator('#statuses .status').allInnerTexts();
    seen.queue_number = await text('#queue-number');
    await shot('result');
    // «просмотр результата»: the PDF itself
    const href = await page.getAttribute('#view-result', 'href');
    const view = await page.request.get(`${base}${href}`);
    seen.view = {
      status: view.status(),
      type: view.headers()['content-type'],
      disposition: view.headers()['content-disposition'],
      pdf: (await view.body()).subarray(0, 5).toString(),
    };
    // «сохранить»: a file downloaded
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save-result')]);
    const saved = join(out, 'saved.pdf');
    await download.saveAs(saved);
    seen.saved = { name: download.suggestedFilename(), pdf: readFileSync(saved).subarray(0, 5).toString() };
    // the history in Kazakh
    await go('#lang-kk');
    seen.kazakh_status = await text('#status');
    await go('#nav-history');
    seen.kazakh_title = await text('h1');
    await shot('history-kk');
  }
} catch (e) {
  seen.failure = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
