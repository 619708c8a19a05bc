-- Why a campaign paused itself (issue #22, the circuit breaker): a sentence naming the provider, how
-- many refusals about us in how many attempts, the reason and a sample reply. NULL when an operator
-- paused it, or when it is not paused; `resume` clears it.
ALTER TABLE campaigns ADD COLUMN pause_reason TEXT;
