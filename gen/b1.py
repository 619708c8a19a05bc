import os
D='/work/wt/fixtures/tests/fixtures/bounces/reasons/'
def w(name, text, crlf=False):
    text=text.lstrip('\n')
    if crlf: text=text.replace('\n','\r\n')
    open(D+name,'w',newline='').write(text)

w('exim-unrouteable-mx-nonexistent.eml','''
Return-path: <>
Envelope-to: bounces@bounces.this-week-in-rust.org
Received: from Debian-exim by mx1.this-week-in-rust.org with local (Exim 4.80)
	id 1UqLzX-0004Ab-2K
	for bounces@bounces.this-week-in-rust.org; Tue, 25 Jun 2013 16:41:03 +0000
X-Failed-Recipients: kontakt@firma-weg-example.de
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mx1.this-week-in-rust.org>
To: bounces@bounces.this-week-in-rust.org
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1UqLzX-0004Ab-2K@mx1.this-week-in-rust.org>
Date: Tue, 25 Jun 2013 16:41:03 +0000

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  kontakt@firma-weg-example.de
    all relevant MX records point to non-existent hosts

------ This is a copy of the message, including all the headers. ------

Return-path: <bounces+abc123@bounces.this-week-in-rust.org>
From: This Week in Rust <newsletter@this-week-in-rust.org>
To: kontakt@firma-weg-example.de
Subject: This Week in Rust 487
Date: Tue, 25 Jun 2013 16:41:02 +0000
Message-ID: <twir-487-kontakt@this-week-in-rust.org>

(body omitted)
''')

w('postfix-2.3-host-not-found-5.4.4.eml','''
Return-Path: <>
X-Original-To: bounces@bounces.this-week-in-rust.org
Delivered-To: bounces@bounces.this-week-in-rust.org
Date: Thu, 14 Sep 2006 22:05:11 +0200 (CEST)
From: MAILER-DAEMON@smtp.this-week-in-rust.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: bounces@bounces.this-week-in-rust.org
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="A12F33C1D4.1158264311/smtp.this-week-in-rust.org"
Message-Id: <20060914200511.8C0E133C1D5@smtp.this-week-in-rust.org>

This is a MIME-encapsulated message.

--A12F33C1D4.1158264311/smtp.this-week-in-rust.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the Postfix program at host smtp.this-week-in-rust.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to <postmaster>

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

			The Postfix program

<m.dupont@ancien-domaine-example.fr>: Host or domain name not found. Name
    service error for name=ancien-domaine-example.fr type=A: Host not found

--A12F33C1D4.1158264311/smtp.this-week-in-rust.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; smtp.this-week-in-rust.org
X-Postfix-Queue-ID: A12F33C1D4
X-Postfix-Sender: rfc822; bounces+d41f@bounces.this-week-in-rust.org
Arrival-Date: Thu, 14 Sep 2006 22:05:10 +0200 (CEST)

Final-Recipient: rfc822; m.dupont@ancien-domaine-example.fr
Action: failed
Status: 5.4.4
Diagnostic-Code: X-Postfix; Host or domain name not found. Name service error
    for name=ancien-domaine-example.fr type=A: Host not found

--A12F33C1D4.1158264311/smtp.this-week-in-rust.org
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <bounces+d41f@bounces.this-week-in-rust.org>
From: newsletter@this-week-in-rust.org
To: m.dupont@ancien-domaine-example.fr
Subject: This Week in Rust 1
Date: Thu, 14 Sep 2006 22:05:09 +0200

--A12F33C1D4.1158264311/smtp.this-week-in-rust.org--
''')

w('courier-551-user-has-moved.eml','''
Return-Path: <>
From: "Courier mail server at mail.isp-example.net" <@>
To: bounces@bounces.this-week-in-rust.org
Subject: NOTICE: mail delivery status.
Mime-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
    boundary="=_courier-7712-1320081955"
Date: Mon, 31 Oct 2011 17:25:55 +0000
Message-ID: <courier.4EAED923.00001E20@mail.isp-example.net>

This is a MIME-formatted message.  If you see this text it means that your
E-mail software does not support MIME-formatted messages.

--=_courier-7712-1320081955
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

This is a delivery status notification from mail.isp-example.net,
running the Courier mail server, version 0.65.0.

The original message was received on Mon, 31 Oct 2011 17:25:52 +0000
from relay.this-week-in-rust.org [192.0.2.10]

---------------------------------------------------------------------------

                           UNDELIVERABLE MAIL

Your message to the following recipients cannot be delivered:

<p.okonkwo@isp-example.net>:
    mx.isp-example.net [198.51.100.25]:
>>> RCPT TO:<p.okonkwo@isp-example.net>
<<< 551 5.1.6 User has moved; please try <p.okonkwo@new-employer-example.com>

---------------------------------------------------------------------------

--=_courier-7712-1320081955
Content-Type: message/delivery-status
Content-Transfer-Encoding: 7bit

Reporting-MTA: dns; mail.isp-example.net
Arrival-Date: Mon, 31 Oct 2011 17:25:52 +0000

Final-Recipient: rfc822; p.okonkwo@isp-example.net
Action: failed
Status: 5.1.6
Remote-MTA: dns; mx.isp-example.net
Diagnostic-Code: smtp; 551 5.1.6 User has moved; please try <p.okonkwo@new-employer-example.com>

--=_courier-7712-1320081955--
''')

w('exchange2010-5.1.6-recipient-moved.eml','''
Return-Path: <>
From: postmaster@hospital-example.org
To: bounces@bounces.this-week-in-rust.org
Date: Wed, 9 Apr 2014 08:12:44 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="9B095B5ADSN=_01CF53C9A4D1E3F700000123EX10HUB01.hospi"
X-DSNContext: 7ce717b1 - 1386 - 00000002 - 00000000
Message-ID: <7YbPqzaT000001c2@EX10HUB01.hospital-example.org>
Subject: Undeliverable: This Week in Rust 26

This is a MIME-formatted message.  
Portions of this message may be unreadable without a MIME-capable mail program.

--9B095B5ADSN=_01CF53C9A4D1E3F700000123EX10HUB01.hospi
Content-Type: text/plain; charset=unicode-1-1-utf-7

Delivery has failed to these recipients or groups:

Dr. Karen Walsh (k.walsh@hospital-example.org)
The recipient has moved to a different e-mail address and no forwarding address is on file. Please contact the recipient by other means.

Diagnostic information for administrators:

Generating server: EX10HUB01.hospital-example.org

k.walsh@hospital-example.org
#550 5.1.6 RESOLVER.ADR.RecipientMoved; recipient has moved ##

--9B095B5ADSN=_01CF53C9A4D1E3F700000123EX10HUB01.hospi
Content-Type: message/delivery-status

Reporting-MTA: dns;EX10HUB01.hospital-example.org
Received-From-MTA: dns;relay.this-week-in-rust.org
Arrival-Date: Wed, 9 Apr 2014 08:12:43 +0000

Final-Recipient: rfc822;k.walsh@hospital-example.org
Action: failed
Status: 5.1.6
Diagnostic-Code: smtp;550 5.1.6 RESOLVER.ADR.RecipientMoved; recipient has moved

--9B095B5ADSN=_01CF53C9A4D1E3F700000123EX10HUB01.hospi--
''', crlf=True)

w('sparkpost-554-suppressed-policy.eml','''
Return-Path: <>
From: Mail Delivery Subsystem <mailer-daemon@relay.this-week-in-rust.org>
To: bounces@bounces.this-week-in-rust.org
Subject: Returned mail: see transcript for details
Date: Fri, 3 Mar 2023 11:20:07 +0000
Message-ID: <202303031120.323BK7qm019922@relay.this-week-in-rust.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="323BK7qm019922.1677842407/relay.this-week-in-rust.org"
Auto-Submitted: auto-generated (failure)

This is a MIME-encapsulated message

--323BK7qm019922.1677842407/relay.this-week-in-rust.org

The original message was received at Fri, 3 Mar 2023 11:20:05 GMT
from localhost [127.0.0.1]

   ----- The following addresses had permanent fatal errors -----
<rosa.mendez@example.mx>
    (reason: 554 5.7.1 recipient address was suppressed due to customer policy)

   ----- Transcript of session follows -----
... while talking to smtp.sparkpostmail.example.:
>>> DATA
<<< 554 5.7.1 recipient address was suppressed due to customer policy
554 5.0.0 Service unavailable

--323BK7qm019922.1677842407/relay.this-week-in-rust.org
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.this-week-in-rust.org
Received-From-MTA: DNS; localhost
Arrival-Date: Fri, 3 Mar 2023 11:20:05 GMT

Final-Recipient: RFC822; rosa.mendez@example.mx
Action: failed
Status: 5.7.1
Remote-MTA: DNS; smtp.sparkpostmail.example
Diagnostic-Code: SMTP; 554 5.7.1 recipient address was suppressed due to customer policy
Last-Attempt-Date: Fri, 3 Mar 2023 11:20:07 GMT

--323BK7qm019922.1677842407/relay.this-week-in-rust.org--
''')

w('postmark-inactive-recipient-text.eml','''
Return-Path: <>
From: Postmark Support <support@postmark-example.com>
To: bounces@bounces.this-week-in-rust.org
Subject: Undelivered Mail Returned to Sender
Date: Mon, 20 Jan 2025 14:02:31 +0000
Message-ID: <a1b2c3d4-0001-4e5f-9a8b-inactive@mta.postmark-example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Auto-Submitted: auto-replied

Your message to the following recipient was not sent:

    yusuf.demir@example.com.tr

You tried to send to a recipient that has been marked as inactive.
Found inactive addresses: yusuf.demir@example.com.tr.
Inactive recipients are ones that have generated a hard bounce or a spam complaint.
We are not sending to this address while it is on the suppression list.

Original subject: This Week in Rust 582
''')
