// Lienthong console: the little JavaScript the pages need. Plain ES2017, no library.
(function () {
  'use strict';
  function meta(name) { var m = document.querySelector('meta[name="' + name + '"]'); return m ? m.content : ''; }
  var csrf = meta('csrf-token');
  var agent = meta('agent-url').replace(/\/+$/, '');

  // ---- base64 <-> bytes (Go's encoding/json uses standard base64 for []byte) ----
  async function json(url, opts) {
    var res;
    try {
      res = await fetch(url, opts);
    } catch (e) {
      throw new Error(url.indexOf(agent) === 0
        ? 'Không kết nối được chương trình ký số trên máy (' + agent + '). Hãy bật "lienthong agent" và cắm USB token.'
        : 'Không kết nối được máy chủ.');
    }
    var body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      var msg = body && (body.detail || body.message) ? (body.detail || body.message) : ('Lỗi ' + res.status);
      throw new Error(msg);
    }
    return body;
  }
  function post(url, data, toServer) {
    var h = { 'Content-Type': 'application/json' };
    if (toServer) { h['X-CSRF-Token'] = csrf; }
    return json(url, { method: 'POST', headers: h, body: JSON.stringify(data), credentials: toServer ? 'same-origin' : 'omit' });
  }

  // ---- Signing with the leader's USB token through the local agent ----
  var btn = document.getElementById('btn-sign');
  if (btn) {
    var status = document.getElementById('sign-status');
    var say = function (t, bad) { status.textContent = t; status.className = bad ? 'flash err' : 'flash'; };
    btn.addEventListener('click', async function () {
      btn.disabled = true;
      try {
        say('Đang tìm chứng thư số trên USB token…');
        var certs = await json(agent + '/v1/certificates', { credentials: 'omit' });
        var c = (certs.items || []).find(function (x) { return x.has_key; });
        if (!c) { throw new Error('Không thấy khoá ký trên USB token.'); }
        var ref = { token_serial: c.token_serial, key_id: c.key_id };
        say('Đang đọc chứng thư số của ' + c.subject + ' (xác nhận trên chương trình ký)…');
        var cert = await post(agent + '/v1/certificate', ref, false);
        say('Đang chuẩn bị văn bản để ký…');
        var prep = await post('/ui/api/outgoing/' + encodeURIComponent(btn.dataset.doc) + '/signing/prepare',
          { certificate: cert.certificate, document_sha256: btn.dataset.sha256 }, true);
        say('Xác nhận và nhập mã PIN trên chương trình ký số…');
        var sig = await post(agent + '/v1/sign', Object.assign({}, ref, {
          session_id: prep.id, digest: prep.digest, digest_algorithm: prep.digest_algorithm,
          signed_attributes: prep.signed_attributes, summary: prep.summary }), false);
        say('Đang hoàn tất chữ ký…');
        await post('/ui/api/signing/sessions/' + encodeURIComponent(prep.id) + '/complete',
          { certificate: cert.certificate, signature: sig.signature }, true);
        say('Đã ký số thành công.');
        window.location.href = window.location.pathname + '?msg=signed';
      } catch (e) {
        say('Chưa ký được: ' + e.message, true);
        btn.disabled = false;
      }
    });
  }

  // ---- Recipient chooser: filter the directory by level and by name (diacritics ignored) ----
  var list = document.getElementById('orglist');
  if (list) {
    var fold = function (s) {
      return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/đ/g, 'd').replace(/Đ/g, 'D').toLowerCase();
    };
    var level = document.getElementById('f-level'), name = document.getElementById('f-name');
    var apply = function () {
      var lv = level.value, words = fold(name.value).split(/\s+/).filter(Boolean);
      list.querySelectorAll('label').forEach(function (l) {
        var hay = fold(l.dataset.name || '');
        var ok = (!lv || l.dataset.level === lv) && words.every(function (w) { return hay.indexOf(w) >= 0; });
        l.hidden = !ok;
      });
    };
    level.addEventListener('change', apply);
    name.addEventListener('input', apply);
  }
})();
