# Source: github.com/NKP144/python_standart_lib, logging/cookbook/logging_server_config.py (whole file).
# The logging cookbook's configuration server: listen() without verify.
import logging
import logging.config
import time
import os

# read initial config file
logging.config.fileConfig('logging.conf')

# create and start listener on port 9999
t = logging.config.listen(9999)
t.start()

logger = logging.getLogger('serverConfig')

try:
    while True:
        logger.debug('debug message')
        logger.info('info message')
        logger.warning('warn message')
        logger.error('error message')
        logger.critical('critical message')
        time.sleep(5)
except KeyboardInterrupt:
    logging.config.stopListening()
    t.join()
