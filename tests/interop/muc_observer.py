"""A person in Jitsi rooms, as far as XMPP goes: signs in to Prosody (plain TCP on loopback, SCRAM), joins
each room given (creating it: this account is a Prosody admin, as Jicofo is for Jitsi), and prints every
groupchat line it receives, one per line, flushed:

    JOINED
    MSG <room local part> <nick>: <body>

It answers commands on stdin: `ITEMS` prints `ITEMS <room>,<room>,...` (the MUC service's disco#items: the
rooms that exist), `INFO <room>` prints `INFO <room> exists` or `INFO <room> <error condition>`.

Usage: muc_observer.py <port> <jid> <password> <muc domain> <nick> <room> [<room> ...]
"""
from __future__ import annotations

import asyncio
import sys

import slixmpp
from slixmpp.exceptions import IqError


class Observer(slixmpp.ClientXMPP):
    def __init__(self, jid, password, muc, nick, rooms):
        super().__init__(jid, password)
        self.muc, self.nick, self.rooms = muc, nick, rooms
        self.enable_starttls = False  # loopback only: plain TCP
        self.enable_direct_tls = False
        self.enable_plaintext = True
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0045")
        self.plugin["feature_mechanisms"].unencrypted_scram = True
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("groupchat_message", self.on_message)

    async def start(self, _event):
        for room in self.rooms:
            await self.plugin["xep_0045"].join_muc_wait(f"{room}@{self.muc}", self.nick, maxstanzas=0, timeout=10)
        print("JOINED", flush=True)
        asyncio.get_event_loop().add_reader(sys.stdin, self.on_command)

    def on_message(self, msg):
        if msg["mucnick"] != self.nick:
            print(f"MSG {msg['from'].user} {msg['mucnick']}: {msg['body']}", flush=True)

    def on_command(self):
        line = sys.stdin.readline().split()
        if not line:
            self.disconnect()
            return
        asyncio.ensure_future(self.command(line))

    async def command(self, line):
        if line[0] == "ITEMS":
            items = await self.plugin["xep_0030"].get_items(jid=self.muc, timeout=10)
            rooms = sorted(i[0].split("@")[0] for i in items["disco_items"]["items"])
            print("ITEMS " + ",".join(rooms), flush=True)
        elif line[0] == "INFO":
            try:
                await self.plugin["xep_0030"].get_info(jid=f"{line[1]}@{self.muc}", timeout=10)
                print(f"INFO {line[1]} exists", flush=True)
            except IqError as e:
                print(f"INFO {line[1]} {e.condition}", flush=True)


def main():
    port, jid, password, muc, nick, *rooms = sys.argv[1:]
    client = Observer(jid, password, muc, nick, rooms)
    client.connect("127.0.0.1", int(port))
    asyncio.get_event_loop().run_until_complete(client.disconnected)


if __name__ == "__main__":
    main()
