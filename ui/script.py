"""The page script (Gradio's ``head``): the answers' export buttons and the citation popovers' keys and taps.

Chat messages cannot carry scripts or event attributes (Gradio sanitizes them), so one listener on
the document handles every message's buttons, including those of chats shown again after a reload:
- ``button.copy-md``: copies its ``value`` (the answer as Markdown) to the clipboard;
- ``button.download-bib``: downloads its ``value`` as the file named by its ``name``;
- ``a.cite``: the popover inside it shows on hover and focus (CSS); here Escape closes it, a tap on a
  touch screen opens it (a second tap follows the link to the source card), and it is kept on screen.
"""

SCRIPT = """
<script>
(() => {
  if (window.paperRagScript) return;
  window.paperRagScript = true;

  const say = (button, text) => {
    const label = button.getAttribute('title') || button.textContent;
    button.setAttribute('title', label);
    button.textContent = text;
    setTimeout(() => { button.textContent = label; button.removeAttribute('title'); }, 1600);
  };

  async function copyText(text) {
    try { await navigator.clipboard.writeText(text); return true; } catch (error) { /* try the old way */ }
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    let done = false;
    try { done = document.execCommand('copy'); } catch (error) { done = false; }
    area.remove();
    return done;
  }

  function download(name, text, type) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  function keepOnScreen(cite) {
    // inside the chat's box (it clips what overflows it) and the window; above the marker if there is no room below
    const pop = cite.querySelector('.cite-pop');
    if (!pop) return;
    pop.style.left = '';
    pop.style.maxWidth = '';
    cite.classList.remove('pop-above');
    const chat = (cite.closest('#chat') || document.documentElement).getBoundingClientRect();
    const left = Math.max(chat.left, 0) + 8;
    const right = Math.min(chat.right, document.documentElement.clientWidth) - 8;
    pop.style.maxWidth = `${Math.max(160, Math.min(416, right - left))}px`;
    let box = pop.getBoundingClientRect();
    let shift = 0;
    if (box.right > right) shift = right - box.right;
    if (box.left + shift < left) shift = left - box.left;
    if (shift) pop.style.left = `${shift}px`;
    box = pop.getBoundingClientRect();
    const bottom = Math.min(chat.bottom, window.innerHeight);
    const room = cite.getBoundingClientRect().top - Math.max(chat.top, 0);
    if (box.bottom > bottom && room > box.height + 8) cite.classList.add('pop-above');
  }

  const openPops = () => document.querySelectorAll('a.cite.pop-open');
  let touchedCite = null;

  document.addEventListener('pointerdown', (event) => {
    const target = event.target instanceof Element ? event.target : null;
    touchedCite = event.pointerType === 'touch' && target ? target.closest('a.cite') : null;
    if (!target || !target.closest('a.cite')) openPops().forEach((cite) => cite.classList.remove('pop-open'));
  }, true);

  document.addEventListener('click', async (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const copyButton = target.closest('button.copy-md');
    if (copyButton) {
      event.preventDefault();
      say(copyButton, (await copyText(copyButton.value)) ? 'Copied' : 'Copy failed: select the text');
      return;
    }
    const bibButton = target.closest('button.download-bib');
    if (bibButton) {
      event.preventDefault();
      download(bibButton.name || 'answer.bib', bibButton.value, 'application/x-bibtex');
      return;
    }
    const cite = target.closest('a.cite');
    if (cite && cite === touchedCite && cite.querySelector('.cite-pop') && !cite.classList.contains('pop-open')) {
      event.preventDefault();  // the first tap shows the popover; a second one follows the link
      openPops().forEach((other) => other.classList.remove('pop-open'));
      cite.classList.remove('pop-closed');
      cite.classList.add('pop-open');
      cite.focus({ preventScroll: true });
      keepOnScreen(cite);
    }
  });

  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    document.querySelectorAll('a.cite:hover, a.cite:focus, a.cite.pop-open').forEach((cite) => {
      cite.classList.remove('pop-open');
      cite.classList.add('pop-closed');
    });
  });

  document.addEventListener('mouseover', (event) => {
    const cite = event.target instanceof Element ? event.target.closest('a.cite') : null;
    if (cite) keepOnScreen(cite);
  });
  document.addEventListener('mouseout', (event) => {
    const cite = event.target instanceof Element ? event.target.closest('a.cite') : null;
    if (cite && !cite.contains(event.relatedTarget) && document.activeElement !== cite) {
      cite.classList.remove('pop-closed');
    }
  });
  document.addEventListener('focusin', (event) => {
    const cite = event.target instanceof Element ? event.target.closest('a.cite') : null;
    if (cite) keepOnScreen(cite);
  });
  document.addEventListener('focusout', (event) => {
    const cite = event.target instanceof Element ? event.target.closest('a.cite') : null;
    if (cite) cite.classList.remove('pop-closed', 'pop-open');
  });
})();
</script>
"""
