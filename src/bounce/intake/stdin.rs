//! One message on standard input, from an MTA's pipe or alias. Read with a size limit: a message
//! over it is refused whole, never cut.

use std::io::Read;

use super::{Fate, Intake, IntakeError, Tally};

/// What became of the message on standard input.
#[derive(Debug)]
pub enum StdinOutcome {
    Handled(Tally),
    /// Over `[bounces] max_message_bytes`: nothing was read further, stored or changed.
    TooLarge {
        limit: u64,
    },
}

impl Intake<'_> {
    /// Handles the message on standard input; `recipient` is the envelope recipient when the MTA
    /// passes it (Postfix pipe: `${recipient}`).
    pub async fn stdin(&self, recipient: Option<&str>) -> Result<StdinOutcome, IntakeError> {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(self.max_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(IntakeError::io(
                "cannot read the message from",
                "standard input",
            ))?;
        if bytes.len() as u64 > self.max_bytes {
            return Ok(StdinOutcome::TooLarge {
                limit: self.max_bytes,
            });
        }
        let mut tally = Tally::default();
        if let Fate::Quarantine(why) = self.handle(&bytes, recipient, &mut tally).await? {
            let mut r = [0u8; 6];
            let _ = getrandom::fill(&mut r);
            let name = format!(
                "{}.{}.stdin",
                crate::domain::unix_now(),
                crate::domain::hex(&r)
            );
            self.quarantine.store(&name, &bytes, &why)?;
            tally.quarantined += 1;
        }
        Ok(StdinOutcome::Handled(tally))
    }
}
