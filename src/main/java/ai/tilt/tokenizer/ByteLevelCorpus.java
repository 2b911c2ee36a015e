package ai.tilt.tokenizer;

/**
 * Plain English text (written for Tilt) from which {@link ByteLevelBpe} learns its merges. Any
 * change alters the generated vocabulary, so models trained with an older tokenizer keep the
 * tokenizer.json written next to them.
 */
final class ByteLevelCorpus {
  private ByteLevelCorpus() {}

  static final String TEXT =
      String.join(
          "\n",
          "The morning was quiet and the streets were still wet from the rain that had fallen in the"
              + " night. A small dog ran across the road, stopped, and looked back at the people who"
              + " were waiting for the bus. Nobody said anything, but everyone smiled.",
          "When you want to learn something new, it helps to start with a simple question. What do"
              + " you already know? What would you like to find out? Write the answers down, and then"
              + " read them again after a few days. You will be surprised how much has changed.",
          "In the kitchen there is a table with four chairs, a bowl of apples and a glass of water."
              + " The window is open, and you can hear children playing in the garden next door. Their"
              + " voices rise and fall like the sound of birds in the trees.",
          "A good answer is short, clear and true. If the question is not clear, ask for more"
              + " information before you answer. If you do not know, say that you do not know, and"
              + " explain what you would need to find out. That is how people learn to trust you.",
          "The user asked the assistant to help with a list of things to do before the trip: book the"
              + " train tickets, pack warm clothes, water the plants, and call the neighbours. The"
              + " assistant wrote the list in order and added the time for each task.",
          "Numbers are everywhere. There are 7 days in a week, 12 months in a year, 24 hours in a day"
              + " and 60 minutes in an hour. If a train leaves at 9:45 and the journey takes 2 hours"
              + " and 30 minutes, it arrives at 12:15, unless it is late.",
          "She opened the old book and found a letter between the pages. The paper was thin and"
              + " yellow, and the writing was small. It began with the words: \"My dear friend, I hope"
              + " this letter finds you well.\" She read it twice before she put it down.",
          "Computers follow instructions. A program is a list of instructions that tells the computer"
              + " what to do, step by step. When the program has an error, the computer still does"
              + " exactly what it was told, which is often not what the writer wanted.",
          "It is important to be kind, even when you are tired or in a hurry. A kind word can change"
              + " the way someone feels for the rest of the day. It costs nothing, and it is one of the"
              + " most valuable things that you can give to another person.",
          "The river runs through the middle of the town. On both sides there are houses with red"
              + " roofs, small shops and a market that opens every Saturday. People come from the"
              + " villages to sell fruit, bread, cheese, flowers and fresh fish.",
          "Question: Why is the sky blue? Answer: Sunlight is made of many colours. When it passes"
              + " through the air, the blue light is scattered more than the other colours, so we see"
              + " blue light coming from every part of the sky.",
          "They worked together for many years and became good friends. When one of them had a"
              + " problem, the other was always there to listen and to help. They did not always agree,"
              + " but they always respected each other and they were honest with each other.",
          "Please read the following instructions carefully. First, choose a name for your project."
              + " Second, write a short description of what it should do. Third, make a list of the"
              + " people who will work on it. Finally, decide when you want to finish.",
          "The weather today will be cold in the north and warmer in the south, with some sun in the"
              + " afternoon. There may be light rain in the evening. Tomorrow will be dry and bright,"
              + " but the wind will be stronger near the coast.",
          "History is the story of people: what they did, what they thought, and why. We study it"
              + " to understand how the world came to be the way it is, and to learn from the choices"
              + " that were made before us, both the good ones and the bad ones.",
          "He said, \"I'm sorry, I didn't know you were here.\" She laughed and said, \"It's all"
              + " right. I've only just arrived, and I wasn't going to stay long.\" They sat down by"
              + " the fire and talked until it was dark outside.",
          "To make tea, boil fresh water and pour it over the leaves. Wait three to five minutes,"
              + " then remove the leaves. Some people like to add milk or sugar, and others prefer it"
              + " with a slice of lemon. There is no right or wrong way to drink it.",
          "Every answer should be helpful, honest and harmless. The assistant should think about what"
              + " the user really needs, give the most useful information first, and keep the answer"
              + " as short as possible while still being complete and correct.");
}
