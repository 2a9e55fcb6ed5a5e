import type { Server } from 'node:http';
import { type DocumentNode, type ExecutionArgs, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocket, WebSocketServer } from 'ws';
import type { Context } from '../graphql/context.ts';
import type { Herald } from '../herald-context.ts';
import { authorizationOf, principalFor } from './auth.ts';
import { clientKey } from './client-address.ts';
import type { LiveStreams } from './live-streams.ts';

type EnvelopedArgs = ExecutionArgs & {
  rootValue: { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };
};

/** Close codes: graphql-ws's own 4403 Forbidden and 4429 Too many requests. */
const FORBIDDEN = 4403;
const TOO_MANY = 4429;

/**
 * graphql-ws (`graphql-transport-ws`) on the same path as HTTP, running through Yoga's envelop so
 * WebSocket operations get the same context, auth, limits and masking as HTTP ones. A socket must
 * name a valid credential in connection_init (else 4403), is counted against its address and key
 * (over the cap: 4429), and is closed with 4403 when its key is revoked.
 */
export function attachWebSocket(server: Server, yoga: YogaServerInstance<any, Context>, herald: Herald, streams: LiveStreams) {
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: herald.config.HERALD_MAX_PUBLIC_BODY_BYTES });
  // Registered before graphql-ws's own listener: a socket is counted before it may say anything.
  wss.on('connection', (socket, request) => {
    const lease = streams.openSocket(clientKey(herald.config, request));
    if (!lease) return socket.close(TOO_MANY, 'Too many open sockets from this address');
    socket.once('close', () => lease.release());
  });
  const disposable = useServer(
    {
      execute: (args) => (args as EnvelopedArgs).rootValue.execute(args) as never,
      subscribe: (args) => (args as EnvelopedArgs).rootValue.subscribe(args) as never,
      onConnect: async (ctx) => {
        const { socket } = ctx.extra;
        const principal = await principalFor(herald, authorizationOf(ctx.connectionParams));
        if (principal.kind === 'none' || socket.readyState !== WebSocket.OPEN) return false; // graphql-ws closes with 4403
        const lease = streams.authenticateSocket(principal, () => socket.close(FORBIDDEN, 'API key revoked'));
        if (!lease) {
          socket.close(TOO_MANY, 'Too many open sockets for this key');
          return false;
        }
        socket.once('close', () => lease.release());
        return true;
      },
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          connectionParams: ctx.connectionParams,
          request: new Request('http://localhost/graphql', { headers: {} }),
        });
        let document: DocumentNode;
        try {
          document = parse(params.query);
        } catch (error) {
          // A query that does not parse (or names no operation to run) fails that operation, not the socket.
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const args = {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors;
        return args;
      },
    },
    wss,
  );
  return {
    async close() {
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
