# Source: github.com/qmor/udp2cantest, recvudp.py (whole file).
# UDP on 0.0.0.0: recvfrom -> pickle.loads.
import socket
import pickle
import can

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server_address = ('0.0.0.0', 10001)
print('starting up on {} port {}'.format(*server_address))
sock.bind(server_address)

while True:
    print('\nwaiting to receive message')
    data, address = sock.recvfrom(4096)

    print('received {} bytes from {}'.format(len(data), address))
    msg = pickle.loads(data)
    print(msg)
