D='/work/wt/fixtures/tests/fixtures/bounces/reasons/'
def w(name, text, crlf=False):
    text=text.lstrip('\n')
    if crlf: text=text.replace('\n','\r\n')
    open(D+name,'w',newline='').write(text)

w('exim-reverse-dns-lookup-failed.eml','''
Return-path: <>
Envelope-to: bounces@bounces.this-week-in-rust.org
X-Failed-Recipients: admin@hosting-example.pt
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mx2.this-week-in-rust.org>
To: bounces@bounces.this-week-in-rust.org
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1SxQ0j-0003Fg-7t@mx2.this-week-in-rust.org>
Date: Fri, 3 Aug 2012 22:31:09 +0100

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  admin@hosting-example.pt
    host mail.hosting-example.pt [203.0.113.18]
    SMTP error from remote mail server after RCPT TO:<admin@hosting-example.pt>:
    550 Reverse DNS lookup failed for host 192.0.2.10 - no PTR record; fix your reverse DNS

------ This is a copy of the message, including all the headers. ------

From: newsletter@this-week-in-rust.org
To: admin@hosting-example.pt
Subject: This Week in Rust (August)
''')

w('sendmail-5.7.1-relaying-denied.eml','''
Return-Path: <>
Date: Tue, 30 Mar 2010 05:12:47 -0500
From: Mail Delivery Subsystem <MAILER-DAEMON@mail.this-week-in-rust.org>
Message-Id: <201003301012.o2UACl4q022121@mail.this-week-in-rust.org>
To: <bounces@bounces.this-week-in-rust.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="o2UACl4q022121.1269943967/mail.this-week-in-rust.org"
Subject: Returned mail: see transcript for details
Auto-Submitted: auto-generated (failure)

This is a MIME-encapsulated message

--o2UACl4q022121.1269943967/mail.this-week-in-rust.org

The original message was received at Tue, 30 Mar 2010 05:12:45 -0500
from localhost [127.0.0.1]

   ----- The following addresses had permanent fatal errors -----
<tom.baker@farm-example.com.au>
    (reason: 550 5.7.1 <tom.baker@farm-example.com.au>... Relaying denied. Proper authentication required.)

   ----- Transcript of session follows -----
... while talking to smarthost.isp-example.net.:
>>> RCPT To:<tom.baker@farm-example.com.au>
<<< 550 5.7.1 <tom.baker@farm-example.com.au>... Relaying denied. Proper authentication required.
550 5.1.1 <tom.baker@farm-example.com.au>... User unknown

--o2UACl4q022121.1269943967/mail.this-week-in-rust.org
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.this-week-in-rust.org
Arrival-Date: Tue, 30 Mar 2010 05:12:45 -0500

Final-Recipient: RFC822; tom.baker@farm-example.com.au
Action: failed
Status: 5.1.1
Remote-MTA: DNS; smarthost.isp-example.net
Diagnostic-Code: SMTP; 550 5.7.1 <tom.baker@farm-example.com.au>... Relaying denied. Proper authentication required.
Last-Attempt-Date: Tue, 30 Mar 2010 05:12:47 -0500

--o2UACl4q022121.1269943967/mail.this-week-in-rust.org--
''')

w('icewarp-550-delivery-failed-bare.eml','''
Return-Path: <>
From: postmaster@clinic-example.cz
To: bounces@bounces.this-week-in-rust.org
Subject: Undelivered mail: This Week in Rust 445
Date: Fri, 3 Jun 2022 09:27:18 +0200
Message-ID: <IW-20220603092718-0042@clinic-example.cz>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

This is an automatically generated Delivery Status Notification.

Delivery to the following recipients failed.

   recepce@clinic-example.cz

Reason: Remote SMTP Server Returned: 550 Requested action not taken

--- Original message headers ---
From: newsletter@this-week-in-rust.org
To: recepce@clinic-example.cz
Subject: This Week in Rust 445
''')

w('sendmail-cannot-send-5-days-4.4.7.eml','''
Return-Path: <>
Date: Sun, 21 May 2006 14:00:03 +0200
From: Mail Delivery Subsystem <MAILER-DAEMON@mail.this-week-in-rust.org>
Message-Id: <200605211200.k4LC03Tn019920@mail.this-week-in-rust.org>
To: <bounces@bounces.this-week-in-rust.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="k4LC03Tn019920.1148220003/mail.this-week-in-rust.org"
Subject: Returned mail: see transcript for details
Auto-Submitted: auto-generated (failure)

This is a MIME-encapsulated message

--k4LC03Tn019920.1148220003/mail.this-week-in-rust.org

The original message was received at Tue, 16 May 2006 13:55:12 +0200
from localhost [127.0.0.1]

   ----- The following addresses had permanent fatal errors -----
<g.romano@comune-example.it>
    (reason: Deferred)

   ----- Transcript of session follows -----
<g.romano@comune-example.it>... Deferred
Message could not be delivered for 5 days
Message will be deleted from queue

--k4LC03Tn019920.1148220003/mail.this-week-in-rust.org
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.this-week-in-rust.org
Arrival-Date: Tue, 16 May 2006 13:55:12 +0200

Final-Recipient: RFC822; g.romano@comune-example.it
Action: failed
Status: 4.4.7
Last-Attempt-Date: Sun, 21 May 2006 14:00:03 +0200

--k4LC03Tn019920.1148220003/mail.this-week-in-rust.org--
''')

w('arf-auth-failure-dkim-2021.eml','''
From: dmarc-forensic@bigmail-example.com
To: dmarc-ruf@this-week-in-rust.org
Subject: FW: This Week in Rust 420
Date: Thu, 9 Dec 2021 02:14:51 +0000
Message-ID: <ruf.20211209021451.7f3a@bigmail-example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
	boundary="ruf-boundary-7f3a"

--ruf-boundary-7f3a
Content-Type: text/plain; charset="us-ascii"

This is an authentication failure report for an email message received from
IP 198.51.100.200 on Thu, 9 Dec 2021 02:10:33 +0000.

--ruf-boundary-7f3a
Content-Type: message/feedback-report

Feedback-Type: auth-failure
User-Agent: BigMailRUF/1.0
Version: 1
Original-Mail-From: <newsletter@this-week-in-rust.org>
Original-Rcpt-To: <hiroshi.mori@bigmail-example.com>
Arrival-Date: Thu, 9 Dec 2021 02:10:33 +0000
Source-IP: 198.51.100.200
Reported-Domain: this-week-in-rust.org
Authentication-Results: mx.bigmail-example.com; dkim=fail (signature did not verify)
 header.d=this-week-in-rust.org; spf=pass smtp.mailfrom=this-week-in-rust.org;
 dmarc=fail header.from=this-week-in-rust.org
Auth-Failure: signature
DKIM-Domain: this-week-in-rust.org
DKIM-Selector: s2021
Delivery-Result: spam

--ruf-boundary-7f3a
Content-Type: text/rfc822-headers

From: This Week in Rust <newsletter@this-week-in-rust.org>
To: hiroshi.mori@bigmail-example.com
Subject: This Week in Rust 420
Date: Wed, 8 Dec 2021 12:00:00 +0000

--ruf-boundary-7f3a--
''')

w('exchange-german-automatische-antwort.eml','''
Return-Path: <>
From: Stefanie Braun <s.braun@stadtwerke-example.de>
To: This Week in Rust <newsletter@this-week-in-rust.org>
Subject: Automatische Antwort: This Week in Rust 372
Date: Thu, 3 Dec 2020 09:00:12 +0000
Message-ID: <AM6PR10MB2424C1E0A9D3F1B2C3D4E5F6A7@AM6PR10MB2424.eurprd10.prod.outlook.example>
Auto-Submitted: auto-generated
X-MS-Exchange-Inbox-Rules-Loop: s.braun@stadtwerke-example.de
X-Auto-Response-Suppress: All
Content-Language: de-DE
MIME-Version: 1.0
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Vielen Dank f=FCr Ihre Nachricht. Ich bin bis einschlie=DFlich 14.12.2020 =
nicht im B=FCro und habe keinen Zugriff auf meine E-Mails.
In dringenden F=E4llen wenden Sie sich bitte an zentrale@stadtwerke-example.de.

Mit freundlichen Gr=FC=DFen
Stefanie Braun
''', crlf=True)

w('japanese-vacation-iso-2022-jp.eml','''
Return-Path: <y.nakamura@shosha-example.co.jp>
From: =?ISO-2022-JP?B?GyRCQ2Y7ejkoGyhC?= <y.nakamura@shosha-example.co.jp>
To: newsletter@this-week-in-rust.org
Subject: =?ISO-2022-JP?B?GyRCSVQ6XyQ3JEYkKiQqJGokXiQ5GyhC?= (Out of Office)
Date: Tue, 30 Apr 2013 08:30:00 +0900
Message-ID: <20130430083000.vacation.5521@shosha-example.co.jp>
Precedence: bulk
X-Mailer: vacation 1.2.7
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-2022-JP
Content-Transfer-Encoding: 7bit

\x1b$B$*@$OC$K$J$C$F$*$j$^$9!#\x1b(B
\x1b$B#57n#6F|$^$GIT:_$K$7$F$*$j$^$9!#\x1b(B
I am out of the office until May 6.
''')

w('arf-opt-out-isp-2010.eml','''
From: Feedback Loop <fbl@cablemail-example.com>
To: fbl@this-week-in-rust.org
Subject: Opt-out request
Date: Mon, 22 Feb 2010 17:45:00 -0500
Message-ID: <optout.1266878700.912@fbl.cablemail-example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
	boundary="part1_optout_1266878700"

--part1_optout_1266878700
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

A subscriber of ours asked to be removed from your mailing list.
Please honour this request.

--part1_optout_1266878700
Content-Type: message/feedback-report

Feedback-Type: opt-out
User-Agent: CableMail-FBL/0.9
Version: 0.1
Original-Mail-From: <bounces+9a9a@bounces.this-week-in-rust.org>
Original-Rcpt-To: <brian.kelly@cablemail-example.com>
Received-Date: Mon, 22 Feb 2010 09:12:31 -0500
Source-IP: 192.0.2.10

--part1_optout_1266878700
Content-Type: message/rfc822

From: This Week in Rust <newsletter@this-week-in-rust.org>
To: brian.kelly@cablemail-example.com
Subject: This Week in Rust (February)
Date: Mon, 22 Feb 2010 09:12:30 -0500

Hello
--part1_optout_1266878700--
''')

w('arf-unsubscribe-removal-recipient-2012.eml','''
From: postmaster-fbl@webmail-example.co.uk
To: fbl@this-week-in-rust.org
Subject: Unsubscribe report
Date: Thu, 11 Oct 2012 11:11:11 +0100
Message-ID: <unsub.20121011.5521@webmail-example.co.uk>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="==unsub_5521=="

--==unsub_5521==
Content-Type: text/plain

The user below clicked "Unsubscribe" in our webmail for your message.

--==unsub_5521==
Content-Type: message/feedback-report

Feedback-Type: unsubscribe
User-Agent: WebmailUK/3.1
Version: 1
Removal-Recipient: <chris.evans@webmail-example.co.uk>
Arrival-Date: Thu, 11 Oct 2012 08:00:05 +0100

--==unsub_5521==
Content-Type: text/rfc822-headers

From: This Week in Rust <newsletter@this-week-in-rust.org>
To: chris.evans@webmail-example.co.uk
Subject: This Week in Rust 2
List-Unsubscribe: <mailto:unsubscribe@bounces.this-week-in-rust.org>

--==unsub_5521==--
''')
