/**
 * A realistic weekly newsletter for bench/send-email.ts, in MJML: a header, a hero, four
 * products, three journal stories, the week's store events, readers' letters, a points block and
 * a footer — eleven web links (tracked) and an unsubscribe link, with Liquid over the contact
 * (name, plan, city, points, email; conditionals, defaults, filters) in the subject, the
 * preheader, the body and the links' query strings. About 17 KB of MJML, which compiles to about
 * 54 KB of HTML (MJML's tables for Outlook are much of it).
 */

const products = [
  { name: 'Trail runner GTX', price: '129.00', was: '159.00', slug: 'trail-runner-gtx', blurb: 'Waterproof, grippy on wet rock, and light enough for race day. Back in three new colours.' },
  { name: 'Merino base layer', price: '64.00', was: '80.00', slug: 'merino-base-layer', blurb: 'Warm when it is cold, cool when it is not, and fresh after a week on the trail.' },
  { name: 'Packable rain shell', price: '99.00', was: '119.00', slug: 'packable-rain-shell', blurb: 'Folds into its own pocket, weighs 180 g, keeps an autumn storm out. Taped seams.' },
  { name: 'Insulated bottle', price: '29.00', was: '35.00', slug: 'insulated-bottle', blurb: 'Hot for twelve hours, cold for twenty-four, and it fits every bike cage we tried.' },
];

const utm = 'utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign=week-48';

/** Two products side by side (the columns stack on a phone). */
const productPair = (pair: typeof products) => `
    <mj-section background-color="#ffffff" padding="8px 12px">
${pair
  .map(
    (item) => `      <mj-column width="50%" padding="0 12px">
        <mj-image src="https://cdn.shop.example/products/${item.slug}.jpg" alt="${item.name}" border-radius="6px" padding="0 0 8px 0" />
        <mj-text padding="0 0 12px 0"><strong style="font-size:17px;color:#1b2a3a">${item.name}</strong><br />${item.blurb}<br /><strong>€${item.price}</strong> <s style="color:#8a9aaa">€${item.was}</s>{% if contact.plan == "gold" %}, and 10% off for gold members{% endif %}<br /><a href="https://shop.example/p/${item.slug}?${utm}&amp;ref={{ contact.externalId }}" style="color:#e4572e;font-weight:700">Shop now →</a></mj-text>
      </mj-column>`,
  )
  .join('\n')}
    </mj-section>`;

const stories = [
  {
    slug: 'ten-kilometres-four-seasons',
    title: 'Ten kilometres, four seasons',
    paragraphs: [
      'Our buyer Maren ran the same loop above Innsbruck once a season for a year. In January the path was a groove in knee-deep snow and the bottle froze shut at the summit cross; in April the meltwater ran down the trail and her shoes were wet for the last six kilometres; in July she started at five to beat the heat and still finished with an empty bottle; in October the larches were gold and the rain came sideways at the col.',
      'What she wore, what she carried, and what she would leave at home next time: the rain shell came every time and was worn three times out of four, the merino layer twice, the poles never. Her packing list fits on a postcard, and we printed it for you. Stick it on the fridge, or by the door where the shoes live.',
      'The loop itself is nothing special, which is the point: 10.4 kilometres and 640 metres of climbing from the tram stop at Hungerburg, up through the forest to the Arzler Alm, along the balcony path and down past the old quarry. You can walk it in three hours, run it in ninety minutes, and do it after work from May to September. In winter the upper half needs spikes, and sometimes snowshoes.',
      'Maren timed every outing and wrote down the weather, the state of the path and what she regretted, and the notes are the best part of the story. Her rule of thumb after a year: dress for the second kilometre, not the first; carry one layer more than you think on the way up and one less on the way down; and never trust a forecast that promises a dry afternoon in October.',
    ],
  },
  {
    slug: 'repair-dont-replace',
    title: 'Repair, don’t replace',
    paragraphs: [
      'A torn shell is not the end of a shell. Our repair bench in the Innsbruck store patched 1,214 jackets, trousers and packs this year, most of them in under a week and many of them for free: if we sold it to you, we fix seams, zips and buckles at no charge for as long as you own it, whatever the receipt says.',
      'Bring it in, or send it with the prepaid label from your account. We photograph what we did and send the pictures with the parcel, so you can do the next small one yourself. The most common repair this year was a zip slider, a two-minute job with the right pliers; the strangest, a backpack a marmot had opened in search of a sandwich.',
      'Why bother? A jacket that lasts twice as long halves its footprint, and the repair usually costs less than a lunch. We also keep spare parts for everything we sold in the last ten years: buckles, sliders, hip-belt padding, the little toggles that always go missing. If we no longer have the part, we find a replacement that fits, and we tell you before we start.',
      'Our repair workshops are back in the new year, on the first Saturday of every month in Innsbruck and Salzburg: two hours, six people, a sewing machine each, and a cup of tea. You bring something that needs fixing and leave knowing how to fix it. The places go quickly, so sign up in your account as soon as the dates are out in January.',
    ],
  },
  {
    slug: 'night-hikes-for-beginners',
    title: 'Night hikes for beginners',
    paragraphs: [
      'The trails you know by day are new at night: quieter, cooler and full of eyes that catch your headlamp. Start on a path you have walked a dozen times, go with a friend, and tell someone at home where you are going and when you will be back. Pick a night near the full moon for your first time, and leave the music at home.',
      'Carry a headlamp with a red mode, which keeps your night vision, and a spare battery in an inside pocket where the cold cannot reach it. Turn the lamp off for a minute at the top: your eyes adjust within twenty, and the valley lights below and the stars above are the reason you came. Then walk down slowly; most slips happen on the way back.',
      'What to wear: the same as by day, plus one warm layer, because the temperature drops faster than you expect once the sun is gone, and you move more slowly in the dark. Reflective details on your pack help the cars on the road to the trailhead see you. Poles are worth taking even if you never use them by day: a third and fourth point of contact make roots and wet stones much less dramatic.',
      'Our guided night hikes run every Friday in November from the Innsbruck store, for up to twelve people, with a guide, a headlamp to borrow and hot chocolate at the hut. They are free for members and take about three hours with the break. If you have never been out after dark, this is the easiest way to start, and the most sociable.',
    ],
  },
];

/** A journal story: an image, a title, its paragraphs and a tracked link. */
const story = (item: (typeof stories)[number]) => `
    <mj-section background-color="#ffffff" padding="16px 24px">
      <mj-column>
        <mj-image src="https://cdn.shop.example/journal/${item.slug}.jpg" alt="${item.title}" border-radius="6px" padding="0 0 12px 0" />
        <mj-text padding="0"><strong style="font-size:19px;color:#1b2a3a">${item.title}</strong></mj-text>
${item.paragraphs.map((paragraph) => `        <mj-text padding="8px 0 0 0">${paragraph}</mj-text>`).join('\n')}
        <mj-text padding="8px 0 0 0"><a href="https://journal.shop.example/${item.slug}?${utm}" style="color:#e4572e;font-weight:700">Read the story →</a></mj-text>
      </mj-column>
    </mj-section>`;

const events = [
  ['Mon 25 Nov, 18:30', 'Innsbruck', 'Slide talk: crossing the Stubai Alps hut to hut in seven days, with the guides who led it this summer.'],
  ['Tue 26 Nov, 19:00', 'Salzburg', 'Ski touring basics: avalanche transceivers, probes and shovels explained, with a practice search in the park.'],
  ['Wed 27 Nov, 18:00', 'Innsbruck', 'Repair evening: bring a zip, a seam or a buckle and leave with it fixed and the know-how to do the next one.'],
  ['Thu 28 Nov, 19:30', 'Graz', 'Film night: three short mountain films from this year’s festival, with the director of the longest one.'],
  ['Fri 29 Nov, 17:00', 'Innsbruck', 'Guided night hike from the store to the Arzler Alm and back, headlamps provided, hot chocolate at the hut.'],
  ['Sat 30 Nov, 10:00', 'Salzburg', 'Boot fitting morning: our fitters measure both feet, heat-mould liners and adjust insoles while you wait.'],
  ['Sat 30 Nov, 14:00', 'Graz', 'Kids’ climbing afternoon on the store wall, for ages six to twelve, with harnesses and shoes to borrow.'],
  ['Sun 1 Dec, 09:00', 'Innsbruck', 'Sunday run club: eight easy kilometres along the Inn, all paces welcome, coffee afterwards on the house.'],
];

const letters = [
  'Last month we asked what you would like to read more about, and 2,318 of you answered. The clear winner was repairs, then routes near the cities, then gear for children; the clear loser was our buying guide to watches, which we will quietly retire. Thank you for taking the time: every answer was read by someone on the team.',
  'Several of you asked why prices on the website and in the stores differ now and then. The answer is stock: when a store has too many of something, it may lower the price locally to make room, and the website cannot know. If you see a lower price in a store near you, show us the label and we match it online for a week.',
  'And a correction: in the last issue we wrote that the Packable rain shell weighs 160 g. It weighs 180 g in size M, and 172 g in size S. Ute from Linz weighed hers on a kitchen scale and wrote to us, and she was right. We have fixed the product page and sent her a bottle.',
];

export const newsletterSubject = '{{ contact.firstName }}, your week-48 picks{% if contact.city %} for {{ contact.city }}{% endif %}';
export const newsletterPreheader = 'Up to 25% off trail gear, and {{ contact.points }} points waiting for you';

export const newsletterMjml = `<mjml>
  <mj-head>
    <mj-title>Week 48 at Shop</mj-title>
    <mj-attributes>
      <mj-all font-family="Helvetica, Arial, sans-serif" />
      <mj-text font-size="15px" line-height="22px" color="#2b3a4a" />
    </mj-attributes>
  </mj-head>
  <mj-body background-color="#eef2f5" width="640px">
    <mj-section background-color="#1b2a3a" padding="16px 24px">
      <mj-column width="50%">
        <mj-image src="https://cdn.shop.example/logo-white.png" alt="Shop" width="120px" align="left" href="https://shop.example/?${utm}" padding="0" />
      </mj-column>
      <mj-column width="50%">
        <mj-text align="right" color="#ffffff" font-size="13px" padding="8px 0 0 0">Hi {{ contact.firstName }} · {{ contact.points }} points</mj-text>
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff" padding="0 0 16px 0">
      <mj-column>
        <mj-image src="https://cdn.shop.example/hero/week-48.jpg" alt="Autumn on the trail" padding="0" />
        <mj-text font-size="30px" line-height="36px" font-weight="800" color="#1b2a3a" padding="20px 24px 8px 24px">Autumn on the trail</mj-text>
        <mj-text padding="0 24px">Dear {{ contact.firstName }} {{ contact.lastName }}, the days are shorter but the paths are emptier. Here is everything we would pack this weekend{% if contact.city %} around {{ contact.city }}{% endif %}. Prices hold until Sunday midnight, while stocks last.</mj-text>
        <mj-button href="https://shop.example/collections/autumn?${utm}&amp;ref={{ contact.externalId }}" background-color="#e4572e" font-size="16px" border-radius="4px">See the autumn collection</mj-button>
      </mj-column>
    </mj-section>
${productPair(products.slice(0, 2))}
${productPair(products.slice(2, 4))}
${stories.map(story).join('\n')}
    <mj-section background-color="#ffffff" padding="16px 24px">
      <mj-column>
        <mj-text padding="0"><strong style="font-size:19px;color:#1b2a3a">In the stores this week</strong>{% if contact.city %} (nearest to {{ contact.city }} first in the app){% endif %}</mj-text>
        <mj-text padding="8px 0 0 0">${events.map(([when, where, what]) => `<strong>${when}</strong> · ${where}<br />${what}`).join('<br /><br />')}</mj-text>
        <mj-divider border-width="1px" border-color="#dde3e8" />
        <mj-text padding="0"><strong style="font-size:19px;color:#1b2a3a">From your letters</strong></mj-text>
${letters.map((letter) => `        <mj-text padding="8px 0 0 0">${letter}</mj-text>`).join('\n')}
      </mj-column>
    </mj-section>
    <mj-section background-color="#f7e9d7" padding="16px 24px">
      <mj-column>
        <mj-text><strong style="font-size:17px;color:#1b2a3a">Your {{ contact.plan | default: "member" | capitalize }} account</strong><br />You have <strong>{{ contact.points }} points</strong>{% if contact.points > 500 %}, enough for a free bottle or €10 off your next order{% else %}; {{ 500 | minus: contact.points }} more and the next bottle is on us{% endif %}. Points never expire while you shop with us once a year.</mj-text>
        <mj-button href="https://shop.example/account/points?${utm}" background-color="#1b2a3a" font-size="14px" border-radius="4px" align="left">See your points</mj-button>
      </mj-column>
    </mj-section>
    <mj-section background-color="#1b2a3a" padding="20px 24px">
      <mj-column>
        <mj-text align="center" color="#8a9aaa" font-size="12px" line-height="18px">You receive this because {{ contact.email }} subscribed to Shop's newsletter, which we send every Thursday morning with the week's picks, stories from the journal and the offers of the week. Prices include VAT; offers are valid while stocks last and may differ in our stores. Shop GmbH, Alte Gasse 4, 6020 Innsbruck, Austria. Managing director: Maren Hofer. Commercial register FN 000000a, Landesgericht Innsbruck. VAT ID ATU00000000. Questions about an order? Reply to this email and we answer within one working day. Our privacy notice explains what we store about you, for how long, and how to ask for a copy or for its deletion.<br /><br /><a href="{{ unsubscribe_url }}" style="color:#8a9aaa">Unsubscribe</a> · <a href="https://shop.example/account/preferences?${utm}" style="color:#8a9aaa">Email preferences</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;
