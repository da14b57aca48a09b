// i18n.js — the listener page's UI text in English, French, Spanish and Arabic, chosen from the
// browser's preferred languages, and the text direction of each language. Main thread only.

const STRINGS = {
  en: {
    subtitle: 'Live interpretation',
    chooseChannel: 'Language',
    loading: 'Loading channels…',
    listen: 'Listen',
    stop: 'Stop',
    starting: 'Starting…',
    volume: 'Volume',
    keepAwake: 'Keep screen on',
    latency: 'Delay',
    live: 'Interpreter live',
    floorLive: 'Original speech',
    floorFallback: 'Floor — no interpreter',
    relay: '{name} — no interpreter',
    silent: 'No interpreter — no audio',
    connecting: 'Connecting…',
    connected: 'Connected',
    reconnecting: 'Connection lost — retrying in {s} s',
    offline: 'Disconnected',
    unknownChannel: 'This channel is not available. Please pick another one.',
    audioFailed: 'Sound could not start on this browser: {reason}',
    ms: '{ms} ms',
  },
  fr: {
    subtitle: 'Interprétation en direct',
    chooseChannel: 'Langue',
    loading: 'Chargement des canaux…',
    listen: 'Écouter',
    stop: 'Arrêter',
    starting: 'Démarrage…',
    volume: 'Volume',
    keepAwake: 'Garder l’écran allumé',
    latency: 'Retard',
    live: 'Interprète en direct',
    floorLive: 'Discours original',
    floorFallback: 'Original — pas d’interprète',
    relay: '{name} — pas d’interprète',
    silent: 'Pas d’interprète — pas de son',
    connecting: 'Connexion…',
    connected: 'Connecté',
    reconnecting: 'Connexion perdue — nouvel essai dans {s} s',
    offline: 'Déconnecté',
    unknownChannel: 'Ce canal n’est pas disponible. Choisissez-en un autre.',
    audioFailed: 'Le son ne peut pas démarrer sur ce navigateur : {reason}',
    ms: '{ms} ms',
  },
  es: {
    subtitle: 'Interpretación en directo',
    chooseChannel: 'Idioma',
    loading: 'Cargando canales…',
    listen: 'Escuchar',
    stop: 'Detener',
    starting: 'Iniciando…',
    volume: 'Volumen',
    keepAwake: 'Mantener la pantalla encendida',
    latency: 'Retardo',
    live: 'Intérprete en directo',
    floorLive: 'Discurso original',
    floorFallback: 'Original — sin intérprete',
    relay: '{name} — sin intérprete',
    silent: 'Sin intérprete — sin sonido',
    connecting: 'Conectando…',
    connected: 'Conectado',
    reconnecting: 'Conexión perdida — reintentando en {s} s',
    offline: 'Desconectado',
    unknownChannel: 'Este canal no está disponible. Elija otro.',
    audioFailed: 'El sonido no puede iniciarse en este navegador: {reason}',
    ms: '{ms} ms',
  },
  ar: {
    subtitle: 'ترجمة فورية مباشرة',
    chooseChannel: 'اللغة',
    loading: 'جارٍ تحميل القنوات…',
    listen: 'استمع',
    stop: 'إيقاف',
    starting: 'جارٍ البدء…',
    volume: 'مستوى الصوت',
    keepAwake: 'إبقاء الشاشة مضاءة',
    latency: 'التأخير',
    live: 'المترجم على الهواء',
    floorLive: 'الكلام الأصلي',
    floorFallback: 'الصوت الأصلي — لا يوجد مترجم',
    relay: '{name} — لا يوجد مترجم',
    silent: 'لا يوجد مترجم — لا صوت',
    connecting: 'جارٍ الاتصال…',
    connected: 'متصل',
    reconnecting: 'انقطع الاتصال — إعادة المحاولة خلال {s} ث',
    offline: 'غير متصل',
    unknownChannel: 'هذه القناة غير متاحة. يرجى اختيار قناة أخرى.',
    audioFailed: 'تعذّر تشغيل الصوت في هذا المتصفح: {reason}',
    ms: '{ms} ms',
  },
};

const RTL_LANGUAGES = new Set(['ar', 'arc', 'ckb', 'dv', 'fa', 'he', 'ks', 'ku-arab', 'ps', 'sd', 'ug', 'ur', 'yi']);

let current = 'en';

// The first of the browser's languages that the page has text for; English otherwise.
export function pickLocale(languages) {
  for (const tag of languages || []) {
    const base = String(tag).toLowerCase().split('-')[0];
    if (STRINGS[base]) return base;
  }
  return 'en';
}

// 'rtl' for a right-to-left language tag, 'ltr' for the others, 'auto' when the tag is empty.
export function directionOf(tag) {
  if (!tag) return 'auto';
  const lower = String(tag).toLowerCase();
  if (lower.includes('-arab')) return 'rtl';
  return RTL_LANGUAGES.has(lower.split('-')[0]) ? 'rtl' : 'ltr';
}

export function locale() {
  return current;
}

// The text of `key` in the current language, with {name} placeholders filled from `vars`.
export function t(key, vars = {}) {
  const text = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
}

// Switches the document to `lang` (lang, dir) and fills every element that has data-i18n.
export function applyLocale(lang, root = document) {
  current = STRINGS[lang] ? lang : 'en';
  const html = root.documentElement;
  html.lang = current;
  html.dir = directionOf(current);
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
}
