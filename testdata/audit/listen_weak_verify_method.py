# Source: github.com/jan2nov/integration-prototype, sip/zmq_logging_aggregator/lib/zmq_logging_aggregator.py
#   (excerpt of one stored version: imports, the verify staticmethod and the listen() call).
# verify=self._verify_config logs the config and returns it unchanged: Bandit and Ruff see a verify and stay quiet.
# coding: utf-8
""" ZeroMQ based Logging aggregator service class.

This class implements a ZMQ SUB socket.

.. moduleauthor:: Ben Mort <benjamin.mort@oerc.ox.ac.uk>
"""
import json
import logging
import logging.config
import logging.handlers
import multiprocessing
import sys
import time

import zmq

from .logging_config import load_logging_config


class ZmqLoggingAggregator(multiprocessing.Process):
    """ ZeroMQ logging aggregator service.
    """

    def __init__(self, config_file=None):
        """ Initialise
        """
        multiprocessing.Process.__init__(self)
        self.config_file = config_file

    def __del__(self):
        """ Destructor
        """
        log_ = logging.getLogger('zla')
        log_.debug('Stopping the logging configuration server')
        logging.config.stopListening()
        # self.config_server.join(timeout=1.0)

    @staticmethod
    def _verify_config(config):
        """ Function to verity that the Logging Config sent to the logging
            configuration server is valid.
        """
        log = logging.getLogger('zla')
        log.info('CONFIG RECEIVED: ', config)
        return config

    def _start_config_server(self,
                             port=logging.config.DEFAULT_LOGGING_CONFIG_PORT):
        """ Initialise and start logging configuration server
        """
        log = logging.getLogger('zla')
        # Start a logging configuration server.
        # https://docs.python.org/3.6/library/logging.config.html#logging.config.listen
        self.config_server = logging.config.listen(port=port,
                                                   verify=self._verify_config)
        self.config_server.daemon = True
        self.config_server.start()
        log.debug('Started logging configuration server on port %i', port)
