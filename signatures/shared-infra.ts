// Names that no catalog pattern may be, or cover: general-purpose parents that
// carry both AI and non-AI traffic (googleapis.com, amazonaws.com, github.com,
// …), third-party services that AI apps embed (Sentry, Statsig, Intercom), SaaS
// with embedded AI features (slack.com, zoom.us), hosting platforms whose
// subdomains belong to anyone, and multi-label public suffixes. A pattern must
// name the AI-specific host instead (gemini.google.com, *.openai.azure.com).
//
// SHARED_INFRA is ../shared/reference/shared-infra.tsv of 2026-11-25 (its
// copy is test/fixtures/reference/shared-infra.tsv; a test keeps them equal);
// EXTRA_SHARED_PARENTS adds hosting platforms that list does not name.

/** shared-infra.tsv, first column, in file order. */
export const SHARED_INFRA: readonly string[] = [
  'google.com', 'clients6.google.com', 'googleapis.com', 'gstatic.com', 'googleusercontent.com', 'google',
  'withgoogle.com', 'google.dev', 'goog', 'microsoft.com', 'cloud.microsoft', 'office.com', 'live.com',
  'msn.com', 'azure.com', 'azureml.ms', 'windows.net', 'azureedge.net', 'azurefd.net', 'amazonaws.com',
  'api.aws', 'cloudfront.net', 'amazon.com', 'github.com', 'api.github.com', 'githubusercontent.com',
  'githubassets.com', 'githubnext.com', 'ghe.com', 'cloudflare.com', 'cloudflare.net', 'workers.dev',
  'pages.dev', 'vsassets.io', 'exp-tas.com', 'livekit.cloud', 'imgix.net', 'b-cdn.net', 'cloudinary.com',
  'ghost.io', 'qualtrics.com', 'arkoselabs.com', 'datadoghq.com', 'statsig.com', 'x.com', 'twitter.com',
  'meta.com', 'facebook.com', 'instagram.com', 'whatsapp.net', 'adobe.io', 'apple.com', 'jetbrains.com',
  'intellij.net', 'tencent.com', 'cloud.tencent.com', 'tencentcloudapi.com', 'baidu.com', 'baidubce.com',
  'aliyun.com', 'aliyuncs.com', 'quark.cn', 'volces.com', 'bytedance.com', 'xfyun.cn', 'yandex.ru',
  'yandex.net', 'vk.com', 'tii.ae', 'kuaishou.com', 'xiaomi.com', 'sentry.io', 'algolia.net', 'auth0.com',
  'intercom.io', 'intercomcdn.com', 'launchdarkly.com', 'segment.io', 'stripe.com', 'identrust.com',
  'observeit.net', 'featuregates.org', 'statsigapi.net', 'events.statsigapi.net', 'api.statsig.com',
  'client-api.arkoselabs.com', 'challenges.cloudflare.com', 'static.cloudflareinsights.com',
  'browser-intake-datadoghq.com', 'browser-intake-us5-datadoghq.com', 'cdn.growthbook.io',
  'cdn.usefathom.com', 'storage.googleapis.com', 'host.livekit.cloud', 'turn.livekit.cloud', 'api.msn.com',
  'assets.msn.com', 'in.appcenter.ms', 'self.events.data.microsoft.com', 'edgeservices.bing.com',
  'bing-shopping.microsoft-falcon.io', 'api.microsoftapp.net', 'gateway.bingviz.microsoft.net',
  'gateway.bingviz.microsoftapp.net', 'location.microsoft.com', 'odc.officeapps.live.com',
  'm365.cloud.microsoft', 'bing.com', 'jnn-pa.googleapis.com', 'waa-pa.clients6.google.com',
  'abtestvm-sg.bytedance.com', 'bytegate-sg.byteintlapi.com', 'byteoversea.com', 'lf3-static.bytednsdoc.com',
  'sf16-short-sg.bytedapm.com', 'starling.zijieapi.com', 'tron-sg.bytelemon.com', 'aws.dev', 'awsapps.com',
  'awsstatic.com', 'console.aws.a2z.com', 'sso.amazonaws.com', 'cognito-identity.us-east-1.amazonaws.com',
  'client-telemetry.us-east-1.amazonaws.com', 'idetoolkits-hostedfiles.amazonaws.com',
  'idetoolkits.amazonwebservices.com', 'replit.app', 'replit.dev', 'repl.co', 'zed.dev', 'kagi.com',
  'notion.so', 'alibabacloud.com', '360.cn', 'yandex.com', 'ya.ru', 'sber.ru', 'kunlun.com', 'envato.com',
  'envato-static.com', 'envatousercontent.com', 'themeforest.net', 'liveperson.net', 'lpsnmedia.net',
  'salesforce.com', 'hubspot.com', 'apollo.io', 'outreach.io', 'salesloft.com', 'gong.io', 'clay.com',
  'zapier.com', 'make.com', 'airtable.com', 'monday.com', 'asana.com', 'clickup.com', 'coda.io', 'zoom.us',
  'teams.microsoft.com', 'slack.com', 'workday.com', 'greenhouse.io', 'lever.co', 'ashbyhq.com', 'box.com',
  'dropbox.com', 'docusign.com', 'adobe.com', 'tableau.com', 'powerbi.com', 'hex.tech', 'thoughtspot.com',
  'intercom.com', 'zendesk.com', 'freshworks.com', 'drift.com', 'servicenow.com',
];

/** Hosting and CDN parents where every subdomain belongs to a different customer. */
export const EXTRA_SHARED_PARENTS: readonly string[] = [
  'akamaihd.net', 'akamaized.net', 'akamaiedge.net', 'edgekey.net', 'edgesuite.net', 'fastly.net', 'fastlylb.net',
  'azurewebsites.net', 'cloudapp.net', 'cloudapp.azure.com', 'trafficmanager.net', 'blob.core.windows.net',
  'appspot.com', 'run.app', 'web.app', 'firebaseapp.com', 'firebaseio.com', 'cloudfunctions.net',
  'herokuapp.com', 'vercel.app', 'vercel.com', 'netlify.app', 'netlify.com', 'onrender.com', 'fly.dev',
  'github.io', 'gitlab.com', 'gitlab.io', 'bitbucket.org', 'digitaloceanspaces.com', 'ondigitalocean.app',
  'elb.amazonaws.com', 's3.amazonaws.com', 'execute-api.amazonaws.com', 'lambda-url.amazonaws.com',
  'r2.dev', 'r2.cloudflarestorage.com', 'trycloudflare.com', 'ngrok.io', 'ngrok-free.app', 'ngrok.app',
  'google.cn', 'googleapis.cn', 'gvt1.com', 'gvt2.com', 'youtube.com', 'ytimg.com', 'doubleclick.net',
  'bing.net', 'msftauth.net', 'msauth.net', 'microsoftonline.com', 'sharepoint.com', 'office.net', 'office365.com',
  'outlook.com', 'skype.com', 'linkedin.com', 'licdn.com', 'icloud.com', 'apple-dns.net', 'mzstatic.com',
  'cdn.jsdelivr.net', 'jsdelivr.net', 'unpkg.com', 'cdnjs.cloudflare.com', 'npmjs.org', 'npmjs.com', 'pypi.org',
  'qq.com', 'weixin.qq.com', 'alicdn.com', 'taobao.com', 'tmall.com', 'alipay.com', 'bdstatic.com', 'bcebos.com',
  'byteimg.com', 'bytecdn.cn', 'ibytedtos.com', 'douyin.com', 'tiktok.com', 'tiktokcdn.com', 'volccdn.com',
];

/**
 * Multi-label public suffixes (a selection of the Public Suffix List's ICANN
 * section): a pattern equal to one would cover every company registered under it.
 */
export const PUBLIC_SUFFIXES: readonly string[] = [
  'co.uk', 'org.uk', 'ac.uk', 'gov.uk', 'me.uk', 'com.cn', 'net.cn', 'org.cn', 'gov.cn', 'edu.cn', 'ac.cn',
  'com.hk', 'com.tw', 'com.sg', 'com.au', 'net.au', 'org.au', 'co.nz', 'co.jp', 'ne.jp', 'or.jp', 'ac.jp',
  'co.kr', 'or.kr', 'co.in', 'net.in', 'org.in', 'com.br', 'net.br', 'com.mx', 'com.ar', 'co.za', 'com.tr',
  'com.ru', 'co.il', 'ac.il', 'com.vn', 'co.id', 'com.my', 'com.ph', 'com.pk', 'com.sa', 'co.th', 'in.th',
  'eu.org', 'com.de', 'co.de', 'com.es', 'com.pl', 'com.ua', 'co.ua',
];

/** Every name a pattern may neither be nor cover. */
export const DENIED_PARENTS: ReadonlySet<string> = new Set([...SHARED_INFRA, ...EXTRA_SHARED_PARENTS, ...PUBLIC_SUFFIXES]);
