// wharf console: live updates for the fills and prefetch-job pages. Plain JavaScript, no libraries; it only asks
// wharf itself (same origin) and only reads. Loaded as a file: the Content-Security-Policy forbids inline script.
(function () {
  'use strict';

  function human(n) {
    if (n < 0) { return '?'; }
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var u = 0;
    while (n >= 1024 && u < units.length - 1) { n /= 1024; u++; }
    return u === 0 ? n + ' B' : n.toFixed(1) + ' ' + units[u];
  }

  function cell(tr, text, cls) {
    var td = document.createElement('td');
    td.textContent = text;
    if (cls) { td.className = cls; }
    tr.appendChild(td);
    return td;
  }

  function poll(url, render) {
    function tick() {
      fetch(url, { credentials: 'same-origin', cache: 'no-store' })
        .then(function (r) {
          if (r.status === 401) { window.location.href = '/ui/login'; return null; }
          return r.ok ? r.json() : null;
        })
        .then(function (data) { if (data && render(data) === false) { return; } window.setTimeout(tick, 1000); })
        .catch(function () { window.setTimeout(tick, 1000); });
    }
    tick();
  }

  function fillsPage() {
    var body = document.getElementById('fills-body');
    poll('/ui/fills.json', function (data) {
      body.textContent = '';
      data.fills.forEach(function (f) {
        var tr = document.createElement('tr');
        tr.setAttribute('data-digest', f.digest);
        tr.setAttribute('data-bytes', String(f.bytes));
        tr.setAttribute('data-size', String(f.size));
        var code = document.createElement('code');
        code.className = 'digest';
        code.textContent = f.digest;
        cell(tr, '').appendChild(code);
        cell(tr, f.repository || '');
        var progress = document.createElement('progress');
        progress.max = f.size > 0 ? f.size : 1;
        progress.value = f.size > 0 ? f.bytes : 0;
        progress.setAttribute('aria-label', 'bytes received of ' + f.digest);
        cell(tr, '').appendChild(progress);
        cell(tr, human(f.bytes) + ' / ' + human(f.size), 'fill-bytes');
        cell(tr, String(f.clients), 'fill-clients');
        cell(tr, human(f.bytesPerSecond) + '/s', 'fill-rate');
        body.appendChild(tr);
      });
      if (data.fills.length === 0) {
        var tr = document.createElement('tr');
        tr.className = 'empty';
        var td = cell(tr, 'No fill in flight.');
        td.colSpan = 6;
        body.appendChild(tr);
      }
      document.getElementById('fills-count').textContent = String(data.fills.length);
      document.getElementById('fills-updated').textContent = new Date().toLocaleTimeString();
    });
  }

  function jobPage() {
    var state = document.getElementById('job-state');
    var body = document.getElementById('job-body');
    var id = state.getAttribute('data-id');
    poll('/ui/prefetch/job.json?id=' + encodeURIComponent(id), function (job) {
      state.textContent = job.state;
      body.textContent = '';
      job.images.forEach(function (i) {
        var tr = document.createElement('tr');
        cell(tr, i.reference);
        cell(tr, i.state, 'image-state');
        cell(tr, human(i.bytesDone) + ' / ' + human(i.bytesTotal) + ' (' + i.layersDone + '/' + i.layersTotal
          + ' layers)');
        var code = document.createElement('code');
        code.className = 'digest';
        code.textContent = i.digest || '';
        cell(tr, '').appendChild(code);
        cell(tr, i.note || '');
        body.appendChild(tr);
      });
      return job.state !== 'succeeded' && job.state !== 'failed';
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var page = document.body.getAttribute('data-page');
    if (page === 'fills') { fillsPage(); }
    if (page === 'prefetch' && document.getElementById('job-state')) { jobPage(); }
  });
}());
