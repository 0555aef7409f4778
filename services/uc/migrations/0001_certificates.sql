-- Certificates issued by the uc service (certificates issued offline by
-- `egovctl pki issue` are in the PKI folder's index.jsonl instead).
create table certificates (
    serial            text primary key,          -- hex, upper case
    subject           text not null,             -- RFC 4514
    iin               text,
    bin               text,
    profile           text not null,             -- signing | authentication
    not_before        timestamptz not null,
    not_after         timestamptz not null,
    certificate_pem   text not null,
    issued_at         timestamptz not null default now(),
    revoked_at        timestamptz,
    revocation_reason smallint,
    constraint revoked_together check ((revoked_at is null) = (revocation_reason is null))
);
create index certificates_iin on certificates (iin, issued_at desc);

-- CRL numbers must grow monotonically across restarts (RFC 5280 §5.2.3).
create sequence crl_number start 1000;
