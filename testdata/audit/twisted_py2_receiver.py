# Source: github.com/TyberiusPrime/pypipegraph, pypipegraph/util/log_listen.py (whole file).
# Python 2 (print statement) Twisted receiver: cPickle.loads(data[4:]) in dataReceived.
from twisted.internet.protocol import Protocol, Factory
from twisted.internet import reactor
import logging
import cPickle

class Debug(Protocol):

    def dataReceived(self, data):
        lr = logging.makeLogRecord(cPickle.loads(data[4:]))
        print "%s: %s" % (lr.name, lr.getMessage())
        #self.transport.write(data, (host, port))

factory = Factory()
factory.protocol= Debug
reactor.listenTCP(5005, factory)
reactor.run()
