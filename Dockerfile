# fakepeer: a lab stand-in for the Teams Direct Routing SIP proxy and Genesys BYOC.
#
#   docker build -t fakepeer .
#   docker run -p 5061:5061 -v fakepeer-certs:/certs fakepeer             # the baseline
#   docker run -p 5061:5061 -v fakepeer-certs:/certs fakepeer serve --scenario expired-leaf
#   docker run -p 5061:5061 -e FAKEPEER_SCENARIO=expired-leaf fakepeer     # the same
#
# BASE is an argument so that the image also builds from a locally made base where no
# registry is reachable: the README's "Offline, with a local base" shows how (a
# debootstrapped Debian, wheels from the host), and tests/container builds it that way.
# Nothing below names a Python version: the base decides it.
ARG BASE=python:3.12-slim

FROM ${BASE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY scenarios/ scenarios/
COPY plans/ plans/
COPY fakepeer/ fakepeer/
# A virtual environment, so the runtime stage copies one folder and no build tools.
RUN python3 -m venv /opt/fakepeer \
 && /opt/fakepeer/bin/python -m pip install --no-cache-dir --disable-pip-version-check . \
 && /opt/fakepeer/bin/fakepeer --version

FROM ${BASE}
# A fixed uid, so a bind-mounted certs folder can be prepared for it: chown 10001 DIR.
ARG FAKEPEER_UID=10001
RUN groupadd --system --gid "${FAKEPEER_UID}" fakepeer \
 && useradd --system --uid "${FAKEPEER_UID}" --gid "${FAKEPEER_UID}" \
        --home-dir /var/lib/fakepeer --create-home --shell /usr/sbin/nologin fakepeer \
 && mkdir /certs \
 && chown "${FAKEPEER_UID}:${FAKEPEER_UID}" /certs
COPY --from=build /opt/fakepeer /opt/fakepeer

# FAKEPEER_LISTEN is serve's default SIP address (and healthcheck's target), FAKEPEER_HTTP
# its HTTP side's; FAKEPEER_CERTS the store, generated on first start and reused from the
# volume after. Set FAKEPEER_HTTP_URL to where the SBC reaches port 8080 (it goes into
# the certificates' AIA, CRL and OCSP URLs when they are made).
ENV PATH=/opt/fakepeer/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FAKEPEER_CERTS=/certs \
    FAKEPEER_LISTEN=0.0.0.0:5061 \
    FAKEPEER_HTTP=0.0.0.0:8080
USER ${FAKEPEER_UID}:${FAKEPEER_UID}
WORKDIR /var/lib/fakepeer
VOLUME ["/certs"]
# 5061: SIP over TLS. 8080: the HTTP side (roots, AIA, CRL, OCSP, status page; its control
# API answers loopback only unless FAKEPEER_HTTP_TOKEN is set).
EXPOSE 5061/tcp 8080/tcp

# Twisted's reactor stops cleanly on SIGTERM (PID 1 here: no shell in between).
STOPSIGNAL SIGTERM
# A real SBC's visit: mutual TLS 1.2 with a lab SBC certificate from the store, then
# OPTIONS, healthy only on 200 OK. The first start generates the CAs: allow for it.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["fakepeer", "healthcheck", "--timeout", "5"]
ENTRYPOINT ["fakepeer"]
CMD ["serve"]
