import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { allowedHostsProblem, BROWSER_PUSH_SERVICES, EndpointPolicy } from '../../src/net/allowed-hosts.ts';
import { checkedLookup, isAddressRefused } from '../../src/net/lookup.ts';
import { specialPurpose } from '../../src/net/special-addresses.ts';

const browsers = new EndpointPolicy(BROWSER_PUSH_SERVICES);

describe('the default policy: the browsers’ push services', () => {
  it.each([
    'https://fcm.googleapis.com/fcm/send/abc',
    'https://FCM.googleapis.com./fcm/send/abc',
    'https://fcm.googleapis.com:443/fcm/send/abc',
    'https://updates.push.services.mozilla.com/wpush/v2/abc',
    'https://updates-autopush.stage.push.services.mozilla.com/wpush/v2/abc',
    'https://web.push.apple.com/abc',
    'https://api.push.apple.com/abc',
    'https://wns2-par02p.notify.windows.com/w/?token=abc',
  ])('allows %s', (endpoint) => {
    expect(browsers.endpointRefusal(endpoint)).toBeNull();
  });

  it.each([
    ['https://127.0.0.1/x', 'the IP address 127.0.0.1 is not an allowed push service'],
    ['https://2130706433/x', 'the IP address 127.0.0.1 is not an allowed push service'],
    ['https://0x7f.0.0.1/x', 'the IP address 127.0.0.1 is not an allowed push service'],
    ['https://0177.0.0.1/x', 'the IP address 127.0.0.1 is not an allowed push service'],
    ['https://[::1]/x', 'the IP address ::1 is not an allowed push service'],
    ['https://[::ffff:169.254.169.254]/x', 'the IP address ::ffff:a9fe:a9fe is not an allowed push service'],
    ['https://user:pw@fcm.googleapis.com/x', 'it contains a user name or password'],
    ['https://user@fcm.googleapis.com/x', 'it contains a user name or password'],
    ['https://fcm.googleapis.com:8443/x', 'port 8443 is not allowed for fcm.googleapis.com'],
    ['https://a.push.apple.com:444/x', 'port 444 is not allowed for a.push.apple.com'],
    ['https://push.apple.com/x', 'push.apple.com is not an allowed push service'],
    ['https://evilpush.apple.com/x', 'evilpush.apple.com is not an allowed push service'],
    ['https://fcm.googleapis.com.evil.example/x', 'fcm.googleapis.com.evil.example is not an allowed push service'],
    ['https://localhost/x', 'localhost is not an allowed push service'],
    ['http://fcm.googleapis.com/x', 'it is not https'],
  ])('refuses %s: %s', (endpoint, reason) => {
    expect(browsers.endpointRefusal(endpoint)).toBe(reason);
  });
});

describe('HERALD_PUSH_ALLOWED_HOSTS', () => {
  it('allows any port on a host or IP it names, only the named port when it names one, 443 on a wildcard', () => {
    const policy = new EndpointPolicy(['127.0.0.1', 'push.example.com', 'fixed.example.com:8443', '*.corp.example', '*.alt.example:9443', '[::1]:4443']);
    expect(policy.endpointRefusal('https://127.0.0.1:39211/push/x')).toBeNull();
    expect(policy.endpointRefusal('https://2130706433:39211/push/x')).toBeNull(); // the same address
    expect(policy.endpointRefusal('https://127.0.0.2/push/x')).toBe('the IP address 127.0.0.2 is not an allowed push service');
    expect(policy.endpointRefusal('https://push.example.com:8080/x')).toBeNull();
    expect(policy.endpointRefusal('https://fixed.example.com:8443/x')).toBeNull();
    expect(policy.endpointRefusal('https://fixed.example.com/x')).toBe('port 443 is not allowed for fixed.example.com');
    expect(policy.endpointRefusal('https://a.b.corp.example/x')).toBeNull();
    expect(policy.endpointRefusal('https://a.corp.example:8443/x')).toBe('port 8443 is not allowed for a.corp.example');
    expect(policy.endpointRefusal('https://a.alt.example:9443/x')).toBeNull();
    expect(policy.endpointRefusal('https://[::1]:4443/x')).toBeNull();
    expect(policy.endpointRefusal('https://[::1]/x')).toBe('port 443 is not allowed for ::1');
    expect(policy.endpointRefusal('https://fcm.googleapis.com/x')).toBe('fcm.googleapis.com is not an allowed push service'); // replaced, not added to
  });

  it('allows a network', () => {
    const policy = new EndpointPolicy(['10.20.0.0/16', 'fd00::/8']);
    expect(policy.endpointRefusal('https://10.20.3.4:8443/x')).toBeNull();
    expect(policy.endpointRefusal('https://10.21.3.4/x')).toBe('the IP address 10.21.3.4 is not an allowed push service');
    expect(policy.addressRefusal('10.20.3.4')).toBeNull();
    expect(policy.addressRefusal('fd12::1')).toBeNull();
    expect(policy.addressRefusal('10.21.3.4')).toBe('address 10.21.3.4 is not allowed (private)');
  });

  it('lets a special address through only when an IP or network entry names it, never because a name does', () => {
    const policy = new EndpointPolicy(['localhost', 'push.internal', '10.1.2.3']);
    expect(policy.endpointRefusal('https://localhost:8443/x')).toBeNull();
    expect(policy.addressRefusal('127.0.0.1')).toBe('address 127.0.0.1 is not allowed (loopback)');
    expect(policy.addressRefusal('10.1.2.3')).toBeNull();
    expect(policy.addressRefusal('10.1.2.4')).toBe('address 10.1.2.4 is not allowed (private)');
    expect(policy.addressRefusal('142.250.74.10')).toBeNull();
  });

  it.each([
    ['127.0.0.1,localhost', undefined],
    [' *.push.example , push.example:8443 , [::1]:4443, ::1, 10.0.0.0/8 ', undefined],
    [' , ', 'must list at least one host'],
    ['push example', '"push example" is not a host name, *.domain, IP address or network'],
    ['https://push.example', '"https://push.example" is not a host name, *.domain, IP address or network'],
    ['*', '"*" is not a host name, *.domain, IP address or network'],
    ['a.*.example', '"a.*.example" is not a host name, *.domain, IP address or network'],
    ['push.example:0', '"push.example:0" has no valid port'],
    ['10.0.0.0/33', '"10.0.0.0/33" is not a network like 10.1.0.0/16'],
    ['*.10.0.0.1', '"*.10.0.0.1": a wildcard needs a domain, not an IP address'],
  ])('checks %j at start', (value, problem) => {
    expect(allowedHostsProblem(value)).toBe(problem);
  });

  it('stops Herald at start with one line naming the variable', () => {
    expect(() => loadConfig({ HERALD_PUSH_ALLOWED_HOSTS: 'push example' })).toThrow(
      'Invalid configuration: HERALD_PUSH_ALLOWED_HOSTS="push example": "push example" is not a host name, *.domain, IP address or network',
    );
    expect(loadConfig({}).HERALD_PUSH_ALLOWED_HOSTS).toBeUndefined();
  });
});

describe('special-purpose addresses', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['100.64.0.1', 'shared (CGNAT)'],
    ['127.0.0.1', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['198.18.0.1', 'benchmarking'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::', 'not global unicast'],
    ['::1', 'not global unicast'],
    ['fe80::1', 'not global unicast'],
    ['fc00::1', 'not global unicast'],
    ['fd12:3456::1', 'not global unicast'],
    ['ff02::1', 'not global unicast'],
    ['::ffff:127.0.0.1', 'not global unicast'],
    ['::ffff:8.8.8.8', 'not global unicast'],
    ['64:ff9b::7f00:1', 'not global unicast'],
    ['2002:7f00:1::1', '6to4'],
    ['2001:db8::1', 'documentation'],
    ['2001:0:4136:e378::1', 'IETF protocol assignment'],
  ])('%s is %s', (address, label) => {
    expect(specialPurpose(address)).toBe(label);
  });

  it.each(['8.8.8.8', '142.250.74.10', '172.32.0.1', '100.128.0.1', '2a00:1450:4001:80b::200a', '2606:4700::1111'])('%s is public', (address) => {
    expect(specialPurpose(address)).toBeNull();
  });
});

describe('the connect-time lookup', () => {
  const lookup = (policy: EndpointPolicy, hostname: string, all: boolean) =>
    new Promise<{ error: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
      checkedLookup(policy)(hostname, { all }, (error, address) => resolve({ error, address })),
    );

  it('refuses a name that resolves only to special addresses', async () => {
    for (const all of [false, true]) {
      const { error } = await lookup(new EndpointPolicy(['localhost']), 'localhost', all);
      expect(isAddressRefused(error)).toBe(true);
      expect(error!.message).toMatch(/^refused to connect to localhost: address (127\.0\.0\.1|::1) is not allowed \((loopback|not global unicast)\)$/);
    }
  });

  it('keeps the addresses an IP entry allows', async () => {
    const policy = new EndpointPolicy(['localhost', '127.0.0.1']);
    expect(await lookup(policy, 'localhost', true)).toEqual({ error: null, address: [{ address: '127.0.0.1', family: 4 }] });
    expect(await lookup(policy, 'localhost', false)).toEqual({ error: null, address: '127.0.0.1' });
  });
});
