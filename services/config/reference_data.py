"""Reference data: Bali Process members (a copy of shared/data) and ISO 4217 currencies."""
from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

MEMBERS_CSV = Path(__file__).with_name("data") / "bali_process_members.csv"


@cache
def members() -> dict[str, dict]:
    """code -> {"code", "name", "kind"} for every member state and member organisation."""
    with MEMBERS_CSV.open(newline="", encoding="utf-8") as f:
        return {row["code"]: row for row in csv.DictReader(f)}


def member_state_codes() -> frozenset[str]:
    return frozenset(c for c, r in members().items() if r["kind"] == "member_state")


def member_codes() -> frozenset[str]:
    return frozenset(members())


# ISO 4217 active codes (2026).
CURRENCIES = frozenset("""
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN
BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR
FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU
MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON
RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP
TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC
XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG
""".split())
