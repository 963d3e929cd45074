"""The operations logic behind `spendsense`: typed functions that take clients.

The click commands in `spendsense.commands` only parse options, build clients and print;
everything that decides something lives here so it can be tested against moto, the App
Runner Stubber and real local HTTP servers.
"""
