//! The three tools every SDK server of the fuzzer exposes, written the way an ordinary rmcp server is:
//! typed parameters, `#[tool]` handlers, the SDK's router and generated input schemas.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::{Deserialize, Serialize};

use crate::execution_log::ExecutionLog;

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub struct EchoArguments {
    text: String,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub struct InvoiceArguments {
    customer_id: String,
    invoice_id: String,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub struct EmailArguments {
    to: String,
    body: String,
}

#[derive(Clone)]
pub struct FuzzTools {
    log: ExecutionLog,
}

impl FuzzTools {
    pub fn new(log: ExecutionLog) -> Self {
        Self { log }
    }

    /// Logs before answering: a call whose execution is not on record must not look successful.
    fn executed<A: Serialize>(&self, tool: &str, arguments: &A) -> Result<(), ErrorData> {
        self.log
            .record(tool, arguments)
            .map_err(|error| ErrorData::internal_error(format!("execution log: {error}"), None))
    }
}

#[tool_router]
impl FuzzTools {
    #[tool(description = "Returns its text")]
    fn echo(&self, Parameters(arguments): Parameters<EchoArguments>) -> Result<String, ErrorData> {
        self.executed("echo", &arguments)?;
        Ok(arguments.text)
    }

    #[tool(description = "Returns one customer's invoice")]
    fn get_invoice(
        &self,
        Parameters(arguments): Parameters<InvoiceArguments>,
    ) -> Result<String, ErrorData> {
        self.executed("get_invoice", &arguments)?;
        serde_json::to_string(&arguments)
            .map_err(|error| ErrorData::internal_error(error.to_string(), None))
    }

    #[tool(description = "Sends an email", annotations(destructive_hint = true))]
    fn send_email(
        &self,
        Parameters(arguments): Parameters<EmailArguments>,
    ) -> Result<String, ErrorData> {
        self.executed("send_email", &arguments)?;
        Ok("sent".to_owned())
    }
}

#[tool_handler]
impl ServerHandler for FuzzTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}
