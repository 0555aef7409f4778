// АРМ ИС ЦОН's pages in headless Chromium, as an operator uses them: no script of the
// site's own, forms only. Prints one JSON line with what it saw; keeps a screenshot of
// each screen in OUTDIR.
//
//   node con-desk.mjs take   BASE IIN PASSWORD REGULATION CITIZEN_IIN OUTDIR
//     log in, switch to Kazakh and back, a new application (ГБД ФЛ asked), a bad IIN
//     refused in the page, the documents marked and a scan uploaded, signed and sent,
//     the receipt; waits for ИС МИО's status on the application's page.
//   node con-desk.mjs result BASE IIN PASSWORD NUMBER OUTDIR
//     log in, the centre's list, the application's page with its statuses and the
//     result document.
//   node con-desk.mjs register BASE IIN PASSWORD OUTDIR
//     the accumulation sector forms a register of the applications waiting for one.
//   node con-desk.mjs handover BASE IIN PASSWORD REGISTER OUTDIR
//     the courier takes the register to the provider.
//   node con-desk.mjs return BASE IIN PASSWORD NUMBER OUTDIR
//     the courier brings the paper result back to the centre.
//   node con-desk.mjs issue BASE IIN PASSWORD NUMBER RECIPIENT_IIN OTHER_IIN OUTDIR
//     the issuing inspector scans the cover's barcode (typed as a hand scanner types
//     it), a number that matches nothing first, then issues the result with the survey
//     (to OTHER_IIN first, refused).
//
// Chromium: $CHROMIUM or /usr/bin/chromium.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open } from './browser.mjs';

const [mode, base, iin, password, ...rest] = process.argv.slice(2);
const out = rest[rest.length - 1];
const seen = { mode };
const { browser, page, shot, go, text } = await open(out, {
  context: { viewport: { width: 1400, height: 1000 }, javaScriptEnabled: false },
  seen,
});
try {

  // login
  await page.goto(`${base}/ui/login`);
  seen.login_title = await page.title();
  await page.fill('#iin', iin);
  await page.fill('#password', 'wrong-password');
  await go('#login');
  seen.login_refused = await text('#error');
  await page.fill('#password', password);
  await Promise.all([page.waitForURL('**/ui/applications'), page.click('#login')]);
  seen.who = await text('#who');
  await shot('applications');

  if (mode === 'take') {
    const [regulation, citizen] = rest;
    // the language switch, there and back
    await go('#lang-kk');
    seen.kazakh_title = await text('h1');
    await go('#lang-ru');
    seen.russian_title = await text('h1');
    // a new application; first an IIN that is not one
    await Promise.all([page.waitForURL('**/ui/applications/new'), page.click('#nav-new')]);
    await page.selectOption('#regulation', regulation);
    await page.fill('#iin', '123456789012');
    await go('#draft');
    seen.bad_iin = await text('#error');
    await shot('bad-iin');
    await page.fill('#iin', citizen);
    await Promise.all([page.waitForURL(/\/ui\/applications\/[A-Z0-9-]+$/), page.click('#draft')]);
    seen.number = page.url().split('/').pop();
    seen.draft_state = await text('#state');
    await shot('draft');
    // the form: contacts, the fields by their kind, every document's paper original
    await page.fill('#phone', '+7 701 123 45 67');
    await page.fill('#email', 'applicant@example.kz');
    for (const input of await page.locator('input[id^="form-"]').all()) {
      const type = await input.getAttribute('type');
      if (type === 'checkbox') await input.check();
      else if (type === 'number') await input.fill('3');
      else if (type === 'date') await input.fill('2020-01-01');
      else if (type === 'email') await input.fill('applicant@example.kz');
      else if (type === 'tel') await input.fill('+7 701 123 45 67');
      else await input.fill('тест');
    }
    for (const box of await page.locator('input[name="paper"]').all()) await box.check();
    const scan = join(out, 'scan.pdf');
    writeFileSync(scan, '%PDF-1.4 a scan of the identity document');
    const file = page.locator('input[type="file"]').first();
    await file.setInputFiles(scan);
    await shot('documents');
    await go('#sign-and-send');
    seen.sent_state = await text('#state');
    seen.delivery = await text('#delivery');
    seen.sent_error = await text('#error');
    await shot('sent');
    // the receipt
    const receipt = await page.request.get(`${base}/ui/applications/${seen.number}/receipt.pdf`);
    seen.receipt = { status: receipt.status(), type: receipt.headers()['content-type'], pdf: (await receipt.body()).subarray(0, 5).toString() };
    // ИС МИО's status comes back to the page (where the channel sends ИС ЦОН statuses)
    for (let i = 0; i < 25 && !(await page.locator('#mio-number').count()); i++) {
      await new Promise((r) => setTimeout(r, 200));
      await page.reload();
    }
    seen.mio_number = await text('#mio-number');
    seen.status = await text('#status');
    await shot('status');
  } else if (mode === 'result') {
    const [number] = rest;
    seen.listed = (await page.locator(`a.number:text-is("${number}")`).count()) === 1;
    seen.listed_result = await text('#applications .result-state');
    await go(`a.number:text-is("${number}")`);
    seen.statuses = await page.locator('#statuses .status').allInnerTexts();
    seen.status = await text('#status');
    seen.result_link = (await page.locator('#result').count()) === 1;
    const result = await page.request.get(`${base}/ui/applications/${number}/result.pdf`);
    seen.result = { status: result.status(), pdf: (await result.body()).subarray(0, 5).toString() };
    await shot('result');
    await go('#lang-kk');
    seen.kazakh_status = await text('#status');
    await shot('result-kk');
  } else if (mode === 'register') {
    await go('#nav-registers');
    seen.awaiting = (await text('#awaiting')) || '';
    await go('#form-register');
    seen.error = await text('#error');
    seen.register = await text('#registers .register');
    const pdf = await page.request.get(`${base}/ui/registers/${seen.register}/register.pdf`);
    seen.register_pdf = { status: pdf.status(), pdf: (await pdf.body()).subarray(0, 5).toString() };
    await shot('register');
  } else if (mode === 'handover') {
    const [register] = rest;
    await go('#nav-registers');
    await go(`#hand-over-${register}`);
    seen.error = await text('#error');
    seen.hand_over_left = await page.locator('.hand-over').count();
    await shot('handover');
  } else if (mode === 'return') {
    const [number] = rest;
    await page.goto(`${base}/ui/applications/${number}`);
    seen.before = await text('#paper-state');
    await go('#return');
    seen.error = await text('#error');
    seen.after = await text('#paper-state');
    await shot('returned');
  } else if (mode === 'issue') {
    const [number, recipient, other] = rest;
    await go('#nav-scan');
    await page.fill('#barcode', 'ALM-ALM-2026-999999');
    await go('#scan');
    seen.unknown_barcode = await text('#error');
    await page.fill('#barcode', number);
    await go('#scan');
    seen.scanned_page = page.url().endsWith(`/ui/applications/${number}`);
    seen.scanned = await text('#paper-scanned');
    const cover = await page.request.get(`${base}/ui/applications/${number}/cover.pdf`);
    seen.cover = { status: cover.status(), pdf: (await cover.body()).subarray(0, 5).toString() };
    await shot('scanned');
    // someone else's IIN first: refused in the page
    await page.fill('#recipient-iin', other);
    await go('#issue');
    seen.wrong_recipient = await text('#error');
    await page.fill('#recipient-iin', recipient);
    seen.survey_questions = await page.locator('#survey > p').count();
    for (const radio of await page.locator('#survey input[type="radio"][value="satisfied"]').all()) await radio.check();
    await shot('issue');
    await go('#issue');
    seen.error = await text('#error');
    seen.state = await text('#paper-state');
    seen.issued = await text('#paper-issued');
    seen.issue_form_left = await page.locator('#issue-form').count();
    await shot('issued');
  }
  // the session ends
  await Promise.all([page.waitForURL('**/ui/login'), page.click('#logout')]);
  seen.logged_out = page.url().endsWith('/ui/login');
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
