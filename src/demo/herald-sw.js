// The demo shop's service worker: the one line a website hosts.
importScripts('/sdk/herald-sw.js');
