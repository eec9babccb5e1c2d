"""The outbound direction: fakepeer dials an SBC the way the cloud proxy does.

``validation`` judges the SBC's certificate (pure), ``caller`` assembles who dials
(profile, era, client chain, trust), ``verdicts`` says what an attempt means for the SBC,
``pinger`` repeats attempts at the proxy's pace and ``dialback`` lets ``serve`` dial the
SBC back after its OPTIONS; the Twisted edge is :mod:`fakepeer.net.dialer`. Nothing is
imported here, so that the pure modules load without Twisted.
"""
