# Shared by the mail tools' helpers: DNS answers from the devstack's knotd
# (ADDR:PORT) only, never /etc/resolv.conf.
#
# knotd is authoritative and, like any authoritative server, does not chase
# a CNAME into another zone: rz1._domainkey.example.test CNAME
# rz1._domainkey.hosting.test comes back as the CNAME alone.  A recursive
# resolver follows it; chase() does the same (at most 8 links), so the
# tools see what a mail server's resolver would give them.
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver


def server(addr_port):
    addr, sep, port = addr_port.rpartition(":")
    if not sep or not addr or not port.isdigit():
        raise SystemExit("--dns wants ADDR:PORT, not %r" % addr_port)
    return addr, int(port)


def resolver(addr_port):
    """A dnspython resolver on ADDR:PORT, also made dnspython's default
    (pyspf's DNSLookup_dnspython uses dns.resolver.query)."""
    addr, port = server(addr_port)
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [addr]
    r.port = port
    r.timeout = 2
    r.lifetime = 5
    r.cache = None
    dns.resolver.default_resolver = r
    return r


def ask(addr, port, qname, rdtype, timeout=2.0):
    q = dns.message.make_query(qname, rdtype)
    q.flags &= ~dns.flags.RD
    r = dns.query.udp(q, addr, port=port, timeout=timeout)
    if r.flags & dns.flags.TC:
        r = dns.query.tcp(q, addr, port=port, timeout=timeout)
    return r


def chase(addr, port, qname, rdtype, timeout=2.0):
    """(rcode, answer rrsets, chain): qname's rdtype records, CNAMEs
    followed; chain lists the CNAME links as 'owner -> target'."""
    if isinstance(qname, str):
        qname = dns.name.from_text(qname)
    rdtype = dns.rdatatype.RdataType.make(rdtype)
    answer, chain, name = [], [], qname
    for _ in range(9):
        r = ask(addr, port, name, rdtype, timeout)
        if r.rcode() != dns.rcode.NOERROR:
            return r.rcode(), answer, chain
        nxt = None
        # follow the chain inside this answer, then ask for where it ends
        while True:
            final = r.get_rrset(r.answer, name, dns.rdataclass.IN, rdtype)
            if final is not None:
                return dns.rcode.NOERROR, answer + [final], chain
            cn = r.get_rrset(r.answer, name, dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cn is None or rdtype == dns.rdatatype.CNAME:
                break
            answer.append(cn)
            chain.append("%s -> %s" % (name, cn[0].target))
            name = nxt = cn[0].target
        if nxt is None:
            return dns.rcode.NOERROR, answer, chain
    return dns.rcode.SERVFAIL, answer, chain
