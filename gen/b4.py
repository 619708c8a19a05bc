D='/work/wt/fixtures/tests/fixtures/bounces/reasons/'
def w(name, text, crlf=False):
    text=text.lstrip('\n')
    if crlf: text=text.replace('\n','\r\n')
    open(D+name,'w',newline='').write(text)

w('postfix-delay-warning-4.4.1.eml','''
Return-Path: <>
From: MAILER-DAEMON@relay.this-week-in-rust.org (Mail Delivery System)
To: bounces@bounces.this-week-in-rust.org
Subject: Delayed Mail (still being retried)
Date: Thu, 3 Apr 2025 13:05:40 +0000 (UTC)
Message-Id: <20250403130540.7D8A05E2F1@relay.this-week-in-rust.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="7D8A05E2E0.1743685540/relay.this-week-in-rust.org"

--7D8A05E2E0.1743685540/relay.this-week-in-rust.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host relay.this-week-in-rust.org.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than 4 hour(s).
It will be retried until it is 5 day(s) old.

                   The mail system

<kofi.boateng@telecom-example.com.gh>: connect to
    mx.telecom-example.com.gh[203.0.113.33]:25: Connection timed out

--7D8A05E2E0.1743685540/relay.this-week-in-rust.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.this-week-in-rust.org
Arrival-Date: Thu, 3 Apr 2025 09:02:11 +0000 (UTC)

Final-Recipient: rfc822; kofi.boateng@telecom-example.com.gh
Original-Recipient: rfc822;kofi.boateng@telecom-example.com.gh
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mx.telecom-example.com.gh[203.0.113.33]:25:
    Connection timed out
Will-Retry-Until: Tue, 8 Apr 2025 09:02:11 +0000 (UTC)

--7D8A05E2E0.1743685540/relay.this-week-in-rust.org
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: This Week in Rust <newsletter@this-week-in-rust.org>
To: kofi.boateng@telecom-example.com.gh
Subject: This Week in Rust 593

--7D8A05E2E0.1743685540/relay.this-week-in-rust.org--
''')

w('sendmail-warning-4-hours-delayed.eml','''
Return-Path: <>
Date: Tue, 16 Jun 2009 21:44:03 -0400
From: Mail Delivery Subsystem <MAILER-DAEMON@mail.this-week-in-rust.org>
Message-Id: <200906170144.n5H1i3hd007712@mail.this-week-in-rust.org>
To: <bounces@bounces.this-week-in-rust.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="n5H1i3hd007712.1245203043/mail.this-week-in-rust.org"
Subject: Warning: could not send message for past 4 hours
Auto-Submitted: auto-generated (warning-timeout)

This is a MIME-encapsulated message

--n5H1i3hd007712.1245203043/mail.this-week-in-rust.org

    **********************************************
    **      THIS IS A WARNING MESSAGE ONLY      **
    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **
    **********************************************

The original message was received at Tue, 16 Jun 2009 17:40:51 -0400
from localhost [127.0.0.1]

   ----- Transcript of session follows -----
<d.murphy@county-example.ie>... Deferred: 451 4.3.0 Temporary local problem - please try later
Warning: message still undelivered after 4 hours
Will keep trying until message is 5 days old

--n5H1i3hd007712.1245203043/mail.this-week-in-rust.org
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.this-week-in-rust.org
Arrival-Date: Tue, 16 Jun 2009 17:40:51 -0400

Final-Recipient: RFC822; d.murphy@county-example.ie
Action: delayed
Status: 4.3.0
Remote-MTA: DNS; mail.county-example.ie
Diagnostic-Code: SMTP; 451 4.3.0 Temporary local problem - please try later
Last-Attempt-Date: Tue, 16 Jun 2009 21:44:03 -0400
Will-Retry-Until: Sat, 20 Jun 2009 17:40:51 -0400

--n5H1i3hd007712.1245203043/mail.this-week-in-rust.org--
''')

w('exchange2010-relayed-dsn.eml','''
Return-Path: <>
From: postmaster@insurance-example.ch
To: bounces@bounces.this-week-in-rust.org
Date: Mon, 17 Feb 2014 16:20:44 +0100
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="9B095B5ADSN=_01CF2BF16A2C4DB9000004A1EX10CAS.insuran"
Message-ID: <Uh8jK1ao00000a4d@EX10CAS.insurance-example.ch>
Subject: Relayed: This Week in Rust 19

This is a MIME-formatted message.  
Portions of this message may be unreadable without a MIME-capable mail program.

--9B095B5ADSN=_01CF2BF16A2C4DB9000004A1EX10CAS.insuran
Content-Type: text/plain; charset=unicode-1-1-utf-7

Delivery to these recipients or distribution lists is complete, but delivery notification was not sent by the destination:

r.keller@insurance-example.ch

Subject: This Week in Rust 19

Sent by Microsoft Exchange Server 2010

--9B095B5ADSN=_01CF2BF16A2C4DB9000004A1EX10CAS.insuran
Content-Type: message/delivery-status

Reporting-MTA: dns;EX10CAS.insurance-example.ch
Received-From-MTA: dns;relay.this-week-in-rust.org
Arrival-Date: Mon, 17 Feb 2014 15:20:43 +0000

Final-Recipient: rfc822;r.keller@insurance-example.ch
Action: relayed
Status: 2.6.0
Remote-MTA: dns;mailgw.insurance-example.ch

--9B095B5ADSN=_01CF2BF16A2C4DB9000004A1EX10CAS.insuran--
''', crlf=True)

w('sendmail-return-receipt-delivered.eml','''
Return-Path: <>
Date: Sat, 1 Nov 2008 10:15:32 +0900
From: Mail Delivery Subsystem <MAILER-DAEMON@mail.univ-example.ac.jp>
Message-Id: <200811010115.mA11FWr9013311@mail.univ-example.ac.jp>
To: <bounces@bounces.this-week-in-rust.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="mA11FWr9013311.1225502132/mail.univ-example.ac.jp"
Subject: Return receipt
Auto-Submitted: auto-generated (return-receipt)

This is a MIME-encapsulated message

--mA11FWr9013311.1225502132/mail.univ-example.ac.jp

The original message was received at Sat, 1 Nov 2008 10:15:30 +0900
from relay.this-week-in-rust.org [192.0.2.10]

   ----- The following addresses had successful delivery notifications -----
<kenji.watanabe@univ-example.ac.jp>  (successfully delivered to mailbox)

   ----- Transcript of session follows -----
<kenji.watanabe@univ-example.ac.jp>... Successfully delivered

--mA11FWr9013311.1225502132/mail.univ-example.ac.jp
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.univ-example.ac.jp
Received-From-MTA: DNS; relay.this-week-in-rust.org
Arrival-Date: Sat, 1 Nov 2008 10:15:30 +0900

Final-Recipient: RFC822; kenji.watanabe@univ-example.ac.jp
Action: delivered (to mailbox)
Status: 2.1.5
Last-Attempt-Date: Sat, 1 Nov 2008 10:15:32 +0900

--mA11FWr9013311.1225502132/mail.univ-example.ac.jp--
''')

w('arf-not-spam-webmail-2016.eml','''
Return-Path: <fbl-noreply@webmail-example.net>
From: Webmail Feedback Loop <fbl-noreply@webmail-example.net>
To: fbl@this-week-in-rust.org
Subject: FW: This Week in Rust 160
Date: Wed, 7 Dec 2016 18:02:44 +0000
Message-ID: <notspam.20161207180244.33@fbl.webmail-example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
	boundary="----=_Part_771_1481133764"

------=_Part_771_1481133764
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP 192.0.2.10
on Wed, 7 Dec 2016 17:58:02 +0000. The recipient moved this message from the
junk folder to the inbox ("This is not spam").

------=_Part_771_1481133764
Content-Type: message/feedback-report

Feedback-Type: not-spam
User-Agent: WebmailFBL/2.3
Version: 1
Source-IP: 192.0.2.10
Original-Mail-From: <bounces+f00d@bounces.this-week-in-rust.org>
Original-Rcpt-To: <lin.zhang@webmail-example.net>
Arrival-Date: Wed, 7 Dec 2016 17:58:02 +0000
Reported-Domain: this-week-in-rust.org

------=_Part_771_1481133764
Content-Type: text/rfc822-headers

From: This Week in Rust <newsletter@this-week-in-rust.org>
To: lin.zhang@webmail-example.net
Subject: This Week in Rust 160
Date: Wed, 7 Dec 2016 17:57:59 +0000
Message-ID: <twir-160@this-week-in-rust.org>

------=_Part_771_1481133764--
''', crlf=True)

w('arf-not-spam-redacted-local-part-2022.eml','''
From: abuse-reports@isp-example.fr
To: fbl@this-week-in-rust.org
Subject: =?UTF-8?Q?Signalement_:_message_class=C3=A9_comme_l=C3=A9gitime?=
Date: Tue, 15 Nov 2022 08:30:00 +0100
Message-ID: <fbl.notspam.2022111508300001@isp-example.fr>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b-ISP-FBL-22"

--b-ISP-FBL-22
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit

Un de nos abonnés a indiqué que ce message n'était pas un spam.
One of our subscribers marked this message as not spam.

--b-ISP-FBL-22
Content-Type: message/feedback-report

Feedback-Type: not-spam
User-Agent: ISP-FR-FBL/1.1
Version: 1
Original-Rcpt-To: manon.leroy@isp-example.fr
Source-IP: 192.0.2.10
Arrival-Date: Mon, 14 Nov 2022 19:41:12 +0100

--b-ISP-FBL-22
Content-Type: message/rfc822

Return-Path: <bounces+c0de@bounces.this-week-in-rust.org>
From: This Week in Rust <newsletter@this-week-in-rust.org>
To: manon.leroy@isp-example.fr
Subject: This Week in Rust 469
Date: Mon, 14 Nov 2022 19:41:10 +0100

Bonjour

--b-ISP-FBL-22--
''')

w('exchange-421-4.3.2-concurrent-connections.eml','''
Return-Path: <>
From: MAILER-DAEMON@relay.this-week-in-rust.org (Mail Delivery System)
To: bounces@bounces.this-week-in-rust.org
Subject: Undelivered Mail Returned to Sender
Date: Wed, 2 Mar 2016 19:44:01 +0000 (UTC)
Message-Id: <20160302194401.5BB225E3A4@relay.this-week-in-rust.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="5BB225E39C.1456947841/relay.this-week-in-rust.org"

--5BB225E39C.1456947841/relay.this-week-in-rust.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host relay.this-week-in-rust.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<s.oliveira@cooperativa-example.pt>: host
    exch.cooperativa-example.pt[203.0.113.71] refused to talk to me: 421 4.3.2
    The maximum number of concurrent connections has exceeded a limit, closing
    transmission channel

--5BB225E39C.1456947841/relay.this-week-in-rust.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.this-week-in-rust.org
Arrival-Date: Fri, 26 Feb 2016 19:40:12 +0000 (UTC)

Final-Recipient: rfc822; s.oliveira@cooperativa-example.pt
Action: failed
Status: 4.3.2
Remote-MTA: dns; exch.cooperativa-example.pt
Diagnostic-Code: smtp; 421 4.3.2 The maximum number of concurrent connections
    has exceeded a limit, closing transmission channel

--5BB225E39C.1456947841/relay.this-week-in-rust.org--
''')

w('barracuda-poor-ip-reputation.eml','''
Return-path: <>
Envelope-to: bounces@bounces.this-week-in-rust.org
X-Failed-Recipients: cfo@steelworks-example.com
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mx1.this-week-in-rust.org>
To: bounces@bounces.this-week-in-rust.org
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1Zf7Tq-0002kR-Bd@mx1.this-week-in-rust.org>
Date: Thu, 24 Sep 2015 13:58:10 +0000

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  cfo@steelworks-example.com
    host d123456.a.ess.barracudanetworks.example [198.51.100.44]
    SMTP error from remote mail server after initial connection:
    554 Service unavailable; Client host [192.0.2.10] blocked using Barracuda Reputation;
    http://www.barracudanetworks.example/reputation/?pr=1&ip=192.0.2.10

------ This is a copy of the message, including all the headers. ------

From: newsletter@this-week-in-rust.org
To: cfo@steelworks-example.com
Subject: This Week in Rust 100
''')
