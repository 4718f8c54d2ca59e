# Source: github.com/ramsayleung/python3-module-of-week,
#   concurrency_with_processes_threads_and_coroutines/asyncio/asyncio_echo_server_protocol.py (whole file, commit b7d7402a).
# asyncio.Protocol.data_received -> self.unpickle(data) -> pickle.loads.
import asyncio
import logging
import pickle
import sys

SERVER_ADDRESS = ('localhost', 10000)
logging.basicConfig(level=logging.DEBUG,
                    format='%(name)s:%(message)s',
                    stream=sys.stderr
                    )

log = logging.getLogger('main')

event_loop = asyncio.get_event_loop()


class EchoServer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.address = transport.get_extra_info('peername')
        self.log = logging.getLogger('EchoServer_{}_{}'.format(*self.address))
        self.log.debug('connection accepted')

    def data_received(self, data):
        self.log.debug('received {!r}'.format(data))
        self.transport.write(data)
        if data:
            obj = self.unpickle(data)
            record = logging.makeLogRecord(obj)
            self.handleLogRecord(record)
        self.log.debug('sent {!r}'.format(data))

    def eof_reveived(self):
        self.log.debug('received EOF')
        if self.transport.can_write_efo():
            self.transport.write_eof()

    def connection_lost(self, error):
        if error:
            self.log.error('ERROR:{}'.format(error))
        else:
            self.log.debug('closing')
        super().connection_lost(error)

    def unpickle(self, data):
        return pickle.loads(data)

    def handleLogRecord(self, record):
        name = record.name
        logger = logging.getLogger(name)
        logger.handle(record)


factory = event_loop.create_server(EchoServer, *SERVER_ADDRESS)
server = event_loop.run_until_complete(factory)
log.debug('starting up on {} port {}'.format(*SERVER_ADDRESS))

try:
    event_loop.run_forever()
finally:
    log.debug('closing server')
    server.close()
    event_loop.run_until_complete(server.wait_closed())
    log.debug('closing event loop')
    event_loop.close()
