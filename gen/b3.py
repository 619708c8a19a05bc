D='/work/wt/fixtures/tests/fixtures/bounces/reasons/'
def w(name, text, crlf=False):
    text=text.lstrip('\n')
    if crlf: text=text.replace('\n','\r\n')
    open(D+name,'w',newline='').write(text)

w('gmail-5.7.1-not-rfc5322-compliant.eml','''
Return-Path: <>
From: Mail Delivery Subsystem <mailer-daemon@googlemail.example>
To: bounces@bounces.this-week-in-rust.org
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
Date: Mon, 6 Mar 2023 08:44:02 -0800 (PST)
Message-ID: <64061912.170a0220.9f3e1.4a7dSMTPIN_ADDED_MISSING@mx.google.example>
MIME-Version: 1.0
Content-Type: multipart/report; boundary="0000000000004dd3e005f63f11a2"; report-type=delivery-status

--0000000000004dd3e005f63f11a2
Content-Type: text/plain; charset="UTF-8"

** Message blocked **

Your message to isabel.costa@gmail.example has been blocked. See technical details below for more information.

The response was:

Messages missing a valid address in From: header, or having no From: header, are not accepted. This message is not RFC 5322 compliant.

--0000000000004dd3e005f63f11a2
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.example
Arrival-Date: Mon, 6 Mar 2023 08:44:01 -0800 (PST)

Final-Recipient: rfc822; isabel.costa@gmail.example
Action: failed
Status: 5.7.1
Diagnostic-Code: smtp; 550-5.7.1 [192.0.2.10] Messages missing a valid address in From:
 header, or having no From: header, are not accepted. This message is not RFC 5322
 compliant. To learn more, go to https://support.google.example/mail/?p=RfcMessageNonCompliant
 b12-20020a05600c4e0c00b003eb2e33f327si3371544wmq.12 - gsmtp

--0000000000004dd3e005f63f11a2--
''')

w('exchange2016-5.6.11-bare-linefeeds.eml','''
Return-Path: <>
From: postmaster@logistik-example.de
To: bounces@bounces.this-week-in-rust.org
Date: Tue, 23 Jan 2024 14:09:31 +0100
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="3a9e0f7d-5b21-4c8e-8d1e-77a2b4c6e0ff"
Content-Language: de-DE
Message-ID: <c0ffee00-1234-4d2e-9a55-0bb1ee7a11ce@EX2016.logistik-example.de>
Subject: Unzustellbar: This Week in Rust 531
X-MS-Exchange-Message-Is-Ndr:

--3a9e0f7d-5b21-4c8e-8d1e-77a2b4c6e0ff
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

Die Nachricht konnte an folgende Empfänger oder Gruppen nicht übermittelt werden:

Lager Hamburg (lager.hh@logistik-example.de)
Die Nachricht enthält einzelne Zeilenvorschübe (Bare LF) und entspricht nicht dem SMTP-Standard.

Diagnoseinformationen für Administratoren:

Generierender Server: EX2016.logistik-example.de

lager.hh@logistik-example.de
Remote Server returned '550 5.6.11 SMTPSEND.BareLinefeedsAreIllegal; message contains bare linefeeds, which cannot be sent via DATA'

--3a9e0f7d-5b21-4c8e-8d1e-77a2b4c6e0ff
Content-Type: message/delivery-status

Reporting-MTA: dns;EX2016.logistik-example.de
Received-From-MTA: dns;relay.this-week-in-rust.org
Arrival-Date: Tue, 23 Jan 2024 13:09:29 +0000

Final-Recipient: rfc822;lager.hh@logistik-example.de
Action: failed
Status: 5.6.11
Diagnostic-Code: smtp;550 5.6.11 SMTPSEND.BareLinefeedsAreIllegal; message contains bare linefeeds, which cannot be sent via DATA

--3a9e0f7d-5b21-4c8e-8d1e-77a2b4c6e0ff--
''', crlf=True)

w('sendmail-connection-refused-5-days.eml','''
Return-Path: <>
Received: from localhost (localhost)
	by mail.this-week-in-rust.org (8.13.1/8.13.1) id j9K3Q1x2004411;
	Thu, 20 Oct 2005 03:26:01 GMT
Date: Thu, 20 Oct 2005 03:26:01 GMT
From: Mail Delivery Subsystem <MAILER-DAEMON@mail.this-week-in-rust.org>
Message-Id: <200510200326.j9K3Q1x2004411@mail.this-week-in-rust.org>
To: <bounces@bounces.this-week-in-rust.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="j9K3Q1x2004411.1129778761/mail.this-week-in-rust.org"
Subject: Returned mail: see transcript for details
Auto-Submitted: auto-generated (failure)

This is a MIME-encapsulated message

--j9K3Q1x2004411.1129778761/mail.this-week-in-rust.org

The original message was received at Sat, 15 Oct 2005 03:20:44 GMT
from localhost.localdomain [127.0.0.1]

   ----- The following addresses had permanent fatal errors -----
<webmaster@smallbiz-example.com>
    (reason: Connection refused by mail.smallbiz-example.com.)

   ----- Transcript of session follows -----
<webmaster@smallbiz-example.com>... Deferred: Connection refused by mail.smallbiz-example.com.
Message could not be delivered for 5 days
Message will be deleted from queue

--j9K3Q1x2004411.1129778761/mail.this-week-in-rust.org
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.this-week-in-rust.org
Arrival-Date: Sat, 15 Oct 2005 03:20:44 GMT

Final-Recipient: RFC822; webmaster@smallbiz-example.com
Action: failed
Status: 4.4.1
Diagnostic-Code: SMTP; 421 4.4.1 Connection refused by mail.smallbiz-example.com.
Last-Attempt-Date: Thu, 20 Oct 2005 03:26:01 GMT

--j9K3Q1x2004411.1129778761/mail.this-week-in-rust.org--
''')

w('exim-retry-timeout-connection-refused.eml','''
Return-path: <>
Envelope-to: bounces@bounces.this-week-in-rust.org
X-Failed-Recipients: bestellung@versand-example.at
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mx1.this-week-in-rust.org>
To: bounces@bounces.this-week-in-rust.org
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1qZx4B-000Fh2-0N@mx1.this-week-in-rust.org>
Date: Sat, 26 Aug 2023 04:12:55 +0000

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  bestellung@versand-example.at
    retry timeout exceeded
    host mx.versand-example.at [203.0.113.140]: Connection refused

------ This is a copy of the message, including all the headers. ------

From: newsletter@this-week-in-rust.org
To: bestellung@versand-example.at
Subject: This Week in Rust 509
''')

w('sendmail-5.3.0-unknown-mailer-error.eml','''
Return-Path: <>
Date: Mon, 2 Jul 2007 18:40:12 -0400
From: Mail Delivery Subsystem <MAILER-DAEMON@mail.nonprofit-example.org>
Message-Id: <200707022240.l62MeCQ3028841@mail.nonprofit-example.org>
To: <bounces@bounces.this-week-in-rust.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="l62MeCQ3028841.1183416012/mail.nonprofit-example.org"
Subject: Returned mail: see transcript for details
Auto-Submitted: auto-generated (failure)

This is a MIME-encapsulated message

--l62MeCQ3028841.1183416012/mail.nonprofit-example.org

The original message was received at Mon, 2 Jul 2007 18:40:11 -0400
from relay.this-week-in-rust.org [192.0.2.10]

   ----- The following addresses had permanent fatal errors -----
"|/usr/local/bin/procmail -t"
    (reason: 554 5.3.0 unknown mailer error 1)
    (expanded from: <volunteers@nonprofit-example.org>)

   ----- Transcript of session follows -----
procmail: Couldn't create "/var/mail/volunteers"
554 5.3.0 unknown mailer error 1

--l62MeCQ3028841.1183416012/mail.nonprofit-example.org
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.nonprofit-example.org
Received-From-MTA: DNS; relay.this-week-in-rust.org
Arrival-Date: Mon, 2 Jul 2007 18:40:11 -0400

Final-Recipient: RFC822; volunteers@nonprofit-example.org
X-Actual-Recipient: X-Unix; |/usr/local/bin/procmail -t
Action: failed
Status: 5.3.0
Diagnostic-Code: X-Unix; 554 5.3.0 unknown mailer error 1
Last-Attempt-Date: Mon, 2 Jul 2007 18:40:12 -0400

--l62MeCQ3028841.1183416012/mail.nonprofit-example.org--
''')

w('postfix-5.4.6-loops-back-to-myself.eml','''
Return-Path: <>
From: MAILER-DAEMON@relay.this-week-in-rust.org (Mail Delivery System)
To: bounces@bounces.this-week-in-rust.org
Subject: Undelivered Mail Returned to Sender
Date: Fri, 18 Oct 2024 06:21:09 +0000 (UTC)
Message-Id: <20241018062109.44F1E5E0B2@relay.this-week-in-rust.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="44F1E5E0A9.1729232469/relay.this-week-in-rust.org"

--44F1E5E0A9.1729232469/relay.this-week-in-rust.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host relay.this-week-in-rust.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<contact@misconfigured-example.org>: host mail.misconfigured-example.org[203.0.113.77]
    said: 554 5.3.5 mail for misconfigured-example.org loops back to myself
    (in reply to end of DATA command)

--44F1E5E0A9.1729232469/relay.this-week-in-rust.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.this-week-in-rust.org
Arrival-Date: Fri, 18 Oct 2024 06:21:08 +0000 (UTC)

Final-Recipient: rfc822; contact@misconfigured-example.org
Action: failed
Status: 5.3.5
Remote-MTA: dns; mail.misconfigured-example.org
Diagnostic-Code: smtp; 554 5.3.5 mail for misconfigured-example.org loops back
    to myself

--44F1E5E0A9.1729232469/relay.this-week-in-rust.org--
''')

w('sendmail-452-4.3.1-insufficient-storage.eml','''
Return-Path: <>
Date: Wed, 12 Mar 2003 07:02:19 +0100
From: Mail Delivery Subsystem <MAILER-DAEMON@mail.this-week-in-rust.org>
Message-Id: <200303120602.h2C62JW01233@mail.this-week-in-rust.org>
To: <bounces@bounces.this-week-in-rust.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="h2C62JW01233.1047448939/mail.this-week-in-rust.org"
Subject: Returned mail: see transcript for details
Auto-Submitted: auto-generated (failure)

This is a MIME-encapsulated message

--h2C62JW01233.1047448939/mail.this-week-in-rust.org

The original message was received at Fri, 7 Mar 2003 06:58:40 +0100
from localhost [127.0.0.1]

   ----- The following addresses had permanent fatal errors -----
<hans.vogel@uni-example.de>
    (reason: 452 4.3.1 Insufficient system storage)

   ----- Transcript of session follows -----
... while talking to mailhost.uni-example.de.:
>>> MAIL From:<bounces@bounces.this-week-in-rust.org> SIZE=18233
<<< 452 4.3.1 Insufficient system storage
<hans.vogel@uni-example.de>... Deferred: 452 4.3.1 Insufficient system storage
Message could not be delivered for 5 days
Message will be deleted from queue

--h2C62JW01233.1047448939/mail.this-week-in-rust.org
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.this-week-in-rust.org
Arrival-Date: Fri, 7 Mar 2003 06:58:40 +0100

Final-Recipient: RFC822; hans.vogel@uni-example.de
Action: failed
Status: 4.3.1
Remote-MTA: DNS; mailhost.uni-example.de
Diagnostic-Code: SMTP; 452 4.3.1 Insufficient system storage
Last-Attempt-Date: Wed, 12 Mar 2003 07:02:19 +0100

--h2C62JW01233.1047448939/mail.this-week-in-rust.org--
''')

w('exchange2010-4.3.1-insufficient-resources-expired.eml','''
Return-Path: <>
From: MAILER-DAEMON@relay.this-week-in-rust.org (Mail Delivery System)
To: bounces@bounces.this-week-in-rust.org
Subject: Undelivered Mail Returned to Sender
Date: Sun, 10 Nov 2013 02:17:33 +0000 (UTC)
Message-Id: <20131110021733.0A7E95E1C3@relay.this-week-in-rust.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="0A7E95E1B0.1384049853/relay.this-week-in-rust.org"

--0A7E95E1B0.1384049853/relay.this-week-in-rust.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host relay.this-week-in-rust.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<pieter.jansen@gemeente-example.nl>: delivery temporarily suspended: host
    ex10.gemeente-example.nl[203.0.113.52] refused to talk to me: 452 4.3.1
    Insufficient system resources

--0A7E95E1B0.1384049853/relay.this-week-in-rust.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.this-week-in-rust.org
Arrival-Date: Tue, 5 Nov 2013 02:15:10 +0000 (UTC)

Final-Recipient: rfc822; pieter.jansen@gemeente-example.nl
Action: failed
Status: 4.3.1
Remote-MTA: dns; ex10.gemeente-example.nl
Diagnostic-Code: smtp; 452 4.3.1 Insufficient system resources

--0A7E95E1B0.1384049853/relay.this-week-in-rust.org--
''')

w('qmail-ldap-disk-full-zh.eml','''
Return-Path: <>
Date: 8 Feb 2016 11:30:02 -0000
From: MAILER-DAEMON@mx.hosting-example.com.br
To: bounces@bounces.this-week-in-rust.org
Subject: failure notice
Message-ID: <20160208113002.22310.qmail@mx.hosting-example.com.br>

Hi. This is the qmail-send program at mx.hosting-example.com.br.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<contato@loja-example.com.br>:
Remote host said: 452 4.3.1 Out of disk space on the mail server, try again later
Giving up on 203.0.113.201.

--- Mensagem original abaixo / Below this line is a copy of the message.

From: newsletter@this-week-in-rust.org
To: contato@loja-example.com.br
Subject: This Week in Rust 116
''')
