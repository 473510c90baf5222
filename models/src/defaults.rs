//! What a model gets when the user sets nothing: Fin-R1's published recommendations for
//! Fin-R1, DeepSeek-R1's for its distilled models, llama.cpp-like settings for the rest.

use crate::sampler::SamplingParams;

/// The system prompt Fin-R1's README recommends.
pub const FIN_R1_SYSTEM_PROMPT: &str = "You are a helpful AI Assistant that provides well-reasoned and detailed responses. You first think about the reasoning process as an internal monologue and then provide the user with the answer. Respond in the following format: <think>\n...\n</think>\n<answer>\n...\n</answer>";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelFamily {
    FinR1,
    R1Distill,
    Other,
}

impl ModelFamily {
    /// From the file's `general.name` and its file name.
    pub fn detect(general_name: Option<&str>, file_name: &str) -> Self {
        let text = format!("{} {}", general_name.unwrap_or(""), file_name).to_lowercase();
        let text = text.replace(['_', ' '], "-");
        if text.contains("fin-r1") {
            Self::FinR1
        } else if text.contains("r1-distill") || text.contains("deepseek-r1") {
            Self::R1Distill
        } else {
            Self::Other
        }
    }

    pub fn default_system_prompt(self) -> Option<&'static str> {
        match self {
            Self::FinR1 => Some(FIN_R1_SYSTEM_PROMPT),
            // DeepSeek's guidance: no system prompt for R1 models.
            Self::R1Distill | Self::Other => None,
        }
    }

    pub fn default_sampling(self) -> SamplingParams {
        match self {
            // Fin-R1's README and generation_config (Qwen2.5's): 0.7 / 0.8 / top-k 20 / 1.05.
            Self::FinR1 => SamplingParams { temperature: 0.7, top_p: 0.8, top_k: 20, repetition_penalty: 1.05, max_tokens: 4000, ..SamplingParams::default() },
            Self::R1Distill => {
                SamplingParams { temperature: 0.6, top_p: 0.95, top_k: 0, repetition_penalty: 1.0, max_tokens: 4000, ..SamplingParams::default() }
            }
            Self::Other => SamplingParams::default(),
        }
    }
}
