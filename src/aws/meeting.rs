//! Chime SDK Meetings: GetMeeting, to tell a pipeline whose meeting ended
//! (AWS stops it, then removes it) from one removed while its meeting goes
//! on.

use super::client::Regional;
use crate::error::Error;

impl Regional {
    /// GetMeeting: whether the meeting still exists; false when AWS answers
    /// NotFound, as it does once a meeting ended.
    pub async fn meeting_exists(&self, id: &str) -> Result<bool, Error> {
        let send = self.meetings.get_meeting().meeting_id(id).send();
        match self.call("GetMeeting", send).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
